//go:build linux && amd64

package trace

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
)

// TestFollow traces real commands, their children and their relative
// paths, and checks what was seen.
func TestFollow(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir+"/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		script string
		exit   int
		want   []string
	}{
		{"open in a child", "cat " + dir + "/f >/dev/null", 0, []string{dir + "/f", "/usr/bin/cat"}},
		{"relative to cwd", "cd " + dir + " && cat ./f >/dev/null", 0, []string{dir + "/f"}},
		{"listing only", "ls " + dir + "/sub >/dev/null", 0, []string{dir + "/sub"}},
		{"stat only", "test -e " + dir + "/missing; exit 3", 3, []string{dir + "/missing"}},
		{"readlink", "readlink /proc/self/exe >/dev/null", 0, []string{"/proc/self/exe"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := follow(t, "/bin/sh", "-c", tc.script)
			if got.Exit != tc.exit {
				t.Errorf("exit: got %d, want %d", got.Exit, tc.exit)
			}
			seen := map[string]bool{}
			for _, p := range got.Paths {
				seen[p] = true
			}
			for _, w := range tc.want {
				if !seen[w] {
					t.Errorf("path %s not traced; got %q", w, got.Paths)
				}
			}
		})
	}
}

func follow(t *testing.T, args ...string) Result {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	res, err := Follow(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
