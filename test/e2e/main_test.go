// Package e2e runs the strata binary end to end, as a user would: real
// overlayfs, real namespaces, a busybox base made from Debian's
// busybox-static, and Debian's docker-registry on 127.0.0.1. It needs root.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// env is what every test shares: the binary and the base image tarball.
var env struct {
	bin        string // the strata binary
	busyboxTar string // busybox root filesystem tarball
	tmp        string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: these tests need root (overlayfs, namespaces): run them as root, as CI does")
		return 1
	}
	tmp, err := os.MkdirTemp("", "strata-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	env.tmp = tmp
	_, self, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(self), "..", "..")
	env.bin = filepath.Join(tmp, "strata")
	build := exec.Command("go", "build", "-o", env.bin, "./cmd/strata")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building strata: %v\n%s", err, out)
		return 1
	}
	env.busyboxTar = filepath.Join(tmp, "busybox.tar")
	mk := exec.Command("bash", filepath.Join(repo, "scripts", "mkbusybox.sh"), env.busyboxTar)
	if out, err := mk.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: making the busybox base (apt-get install busybox-static): %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// strata is one store for a test.
type strata struct {
	t    *testing.T
	root string
}

// newStrata returns a fresh store with busybox:latest imported.
func newStrata(t *testing.T) *strata {
	t.Helper()
	s := &strata{t: t, root: t.TempDir()}
	s.must("import", env.busyboxTar, "busybox:latest")
	return s
}

// result is a finished strata command.
type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// run runs strata with args and stdin (may be nil).
func (s *strata) runIn(stdin []byte, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.bin, append([]string{"--root", s.root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else {
			s.t.Fatalf("running strata %s: %v", strings.Join(args, " "), err)
		}
	}
	return r
}

func (s *strata) run(args ...string) result {
	s.t.Helper()
	return s.runIn(nil, args...)
}

// must runs strata and fails the test on a non-zero exit.
func (s *strata) must(args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("strata %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// context writes files (name → content) into a fresh context directory.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// strataMounts returns the lines of /proc/mounts that mention path.
func mountsUnder(path string) []string {
	data, _ := os.ReadFile("/proc/self/mounts")
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, path) {
			out = append(out, l)
		}
	}
	return out
}
