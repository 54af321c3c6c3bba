package e2e

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testPty opens a pseudo-terminal of rows×cols: the test reads and types
// on master, strata gets slave as its terminal.
func testPty(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// TestRunTty: strata run -t gives the process a terminal of the size of
// strata's own, and Ctrl-C typed on strata's terminal reaches the process
// (its trap runs and decides the exit status) instead of killing strata.
func TestRunTty(t *testing.T) {
	s := newStrata(t)
	tests := []struct {
		name   string
		args   []string
		ctrlC  bool
		want   []string
		status int
	}{
		{"terminal and size", []string{"-t", "busybox", "sh", "-c", "test -t 0 && test -t 1 && test -t 2 && echo all-ttys; stty size"}, false, []string{"all-ttys", "31 101"}, 0},
		{"no -t, no terminal", []string{"busybox", "sh", "-c", "test -t 1 || echo not-a-tty"}, false, []string{"not-a-tty"}, 0},
		{"Ctrl-C reaches the process", []string{"-it", "busybox", "sh", "-c", `trap "echo got-int; exit 5" INT; echo ready; while :; do sleep 0.1; done`}, true, []string{"got-int"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, slave := testPty(t, 31, 101)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, env.bin, append([]string{"--root", s.root, "run", "--rm"}, tt.args...)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var out syncBuffer
			go io.Copy(&out, master)
			if tt.ctrlC {
				deadline := time.Now().Add(time.Minute)
				for !strings.Contains(out.String(), "ready") {
					if time.Now().After(deadline) {
						t.Fatalf("never ready; output %q", out.String())
					}
					time.Sleep(50 * time.Millisecond)
				}
				if _, err := master.Write([]byte{3}); err != nil {
					t.Fatal(err)
				}
			}
			err := cmd.Wait()
			got := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				got = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // the last output through the pty
			if got != tt.status {
				t.Errorf("exit %d, want %d; output %q", got, tt.status, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output %q lacks %q", out.String(), w)
				}
			}
		})
	}
}
