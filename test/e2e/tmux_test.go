package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestLiveViewInTmux builds in a real 80-column terminal (a tmux window) a
// RUN with a long command line that runs 15 s and prints lines longer than
// the terminal, captures the window about twice a second, and checks that
// every capture shows the running step on one line: a line that wrapped
// would leave a new copy of itself at every repaint.
func TestLiveViewInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("this test needs tmux (apt-get install tmux, or scripts/deps.sh): %v", err)
	}
	s := newStrata(t)
	dir := bldContext(t, "FROM busybox\n"+
		"RUN echo apt-get update and apt-get install -y --no-install-recommends build-essential ca-certificates curl git libssl-dev pkg-config python3 && "+
		`for i in $(seq 1 15); do echo "Get:$i http://deb.debian.org/debian bookworm/main amd64 package-$i [$i kB], a line longer than the terminal"; sleep 1; done`+"\n"+
		"WORKDIR /w\n", nil)
	sock := "strata-e2e-" + strconv.Itoa(os.Getpid())
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { tm("kill-server") })
	exitFile := filepath.Join(t.TempDir(), "exit")
	shell := fmt.Sprintf("%s --root %s build --no-cache -t tm %s; echo $? > %s; sleep 600", env.bin, s.root, dir, exitFile)
	if out, err := tm("new-session", "-d", "-s", "tm", "-x", "80", "-y", "30", shell); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}

	const runLine, workdirLine = "] RUN echo apt-get", "] WORKDIR /w"
	running := 0 // captures taken while the RUN ran
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, doneErr := os.ReadFile(exitFile)
		pane, err := tm("capture-pane", "-p", "-t", "tm")
		if err != nil {
			t.Fatalf("tmux capture-pane: %v\n%s", err, pane)
		}
		if got := strings.Count(pane, runLine); got > 1 {
			t.Fatalf("capture %d shows the RUN step on %d lines, want 1:\n%s", running, got, pane)
		}
		for i, l := range strings.Split(pane, "\n") {
			if n := utf8.RuneCountInString(l); n > 80 {
				t.Errorf("line %d of the 80-column window is %d columns: %q", i, n, l)
			}
		}
		if doneErr == nil {
			if strings.TrimSpace(string(code)) != "0" {
				t.Fatalf("strata build exited %s:\n%s", code, pane)
			}
			if strings.Count(pane, runLine) != 1 || strings.Count(pane, workdirLine) != 1 {
				t.Errorf("the finished build shows the RUN step %d times and the WORKDIR step %d times, want once each:\n%s",
					strings.Count(pane, runLine), strings.Count(pane, workdirLine), pane)
			}
			break
		}
		if strings.Contains(pane, runLine) && !strings.Contains(pane, workdirLine) {
			running++
		}
		if time.Now().After(deadline) {
			t.Fatalf("the build did not finish in 2 minutes:\n%s", pane)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if running < 20 {
		t.Errorf("only %d captures while the RUN ran, want the 15 s of it (about 30)", running)
	}
}
