package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestErrorsAUserCanActOn walks the mistakes a docker user makes most, run
// through the binary: each message says what is wrong without an internal
// package name, a usage mistake points at --help, and Ctrl-C during a build
// says "interrupted", not "context canceled".
func TestErrorsAUserCanActOn(t *testing.T) {
	s := newStrata(t)
	notTar := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notTar, []byte(strings.Repeat("not a tar\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	escaping := storeHostileTar(t, []storeTarEntry{{name: "../escape", body: "x"}})
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"inspect", "nosuch"}, []string{"strata: no such image: nosuch:latest\n"}},
		{[]string{"rmi", "nosuch"}, []string{"strata: no such image: nosuch:latest\n"}},
		{[]string{"history"}, []string{`"strata history" requires 1 argument: IMAGE is missing`, "See 'strata history --help'."}},
		{[]string{"tag", "busybox"}, []string{"TARGET_IMAGE is missing", "See 'strata tag --help'."}},
		{[]string{"run"}, []string{`"strata run" requires 1 argument: IMAGE is missing`}},
		{[]string{"build", "--bogus", "."}, []string{"unknown flag: --bogus", "See 'strata build --help'."}},
		{[]string{"image", "ls", "a", "b"}, []string{`"strata image ls" accepts at most 1`, "See 'strata image ls --help'."}},
		{[]string{"imagez"}, []string{`unknown command "imagez"`, "See 'strata --help'."}},
		{[]string{"push", "nosuch", "127.0.0.1:1/x"}, []string{"no such image: nosuch:latest"}},
		{[]string{"import", notTar, "e2e-errors-a:1"}, []string{"strata: the input is not a valid tar"}},
		{[]string{"import", escaping, "e2e-errors-b:1"}, []string{"strata: refusing the tarball, nothing was stored: unsafe tar entry", `"../escape"`}},
	}
	for _, tt := range tests {
		name := strings.NewReplacer(notTar, "notes.txt", escaping, "escaping.tar").Replace(strings.Join(tt.args, " "))
		t.Run(name, func(t *testing.T) {
			r := s.run(tt.args...)
			if r.code == 0 {
				t.Fatalf("exit 0, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			for _, bad := range []string{"store:", "output:", "registry:", "layer:", "import:", "context canceled"} {
				if strings.Contains(r.stderr, bad) {
					t.Errorf("stderr names %q:\n%s", bad, r.stderr)
				}
			}
		})
	}

	t.Run("Ctrl-C during a build", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		dir := bldContext(t, "FROM busybox\nRUN echo $((6*7)); sleep 60\n", nil)
		cmd := exec.CommandContext(ctx, env.bin, "--root", s.root, "build", "--progress=plain", dir)
		var out, errb syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(errb.String(), " 42\n") {
			if time.Now().After(deadline) {
				t.Fatalf("the RUN never started; stderr:\n%s", errb.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("strata build after Ctrl-C: %v, want exit 130", err)
		}
		e := errb.String()
		if strings.Contains(e, "context canceled") || !strings.Contains(e, "#2 CANCELED\n") || !strings.Contains(e, "strata: interrupted\n") {
			t.Errorf("stderr after Ctrl-C:\n%s", e)
		}
	})
}
