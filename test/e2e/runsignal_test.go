package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRunForwardsSignals sends signals to a running `strata run` and checks
// that they reach the container's process, whose trap decides strata's exit
// status, as with docker run: SIGTERM to a trap gives its status, SIGTERM
// without a trap gives 143, SIGINT (Ctrl-C) 130 from the process, not from
// a cancelled strata.
func TestRunForwardsSignals(t *testing.T) {
	s := newStrata(t)
	for _, tc := range []struct {
		name   string
		script string
		sig    syscall.Signal
		want   int
		out    string
	}{
		{"trap TERM", `trap "echo trapped; exit 7" TERM; echo ready; while :; do sleep 0.1; done`, syscall.SIGTERM, 7, "trapped"},
		{"trap INT", `trap "echo trapped; exit 9" INT; echo ready; while :; do sleep 0.1; done`, syscall.SIGINT, 9, "trapped"},
		{"trap USR1", `trap "echo usr1; exit 3" USR1; echo ready; while :; do sleep 0.1; done`, syscall.SIGUSR1, 3, "usr1"},
		{"TERM without a trap", `echo ready; exec sleep 100`, syscall.SIGTERM, 143, ""},
		{"INT without a trap", `echo ready; exec sleep 100`, syscall.SIGINT, 130, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, env.bin, "--root", s.root, "run", "--rm", "busybox", "sh", "-c", tc.script)
			var out, errb syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(time.Minute)
			for !strings.Contains(out.String(), "ready") {
				if time.Now().After(deadline) {
					t.Fatalf("the container never printed ready; stderr:\n%s", errb.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			got := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				got = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("strata exited %d, want %d; stdout %q, stderr %q", got, tc.want, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.out)
			}
			if e := errb.String(); strings.Contains(e, "context canceled") {
				t.Errorf("stderr says %q", e)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
