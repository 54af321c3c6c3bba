package e2e

import (
	"strings"
	"testing"
)

func TestBuildAndRun(t *testing.T) {
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo hello > /hello\nCMD [\"cat\", \"/hello\"]\n",
	})
	s.must("build", "-t", "smoke", ctx)
	if got := s.must("run", "--rm", "smoke").stdout; got != "hello\n" {
		t.Fatalf("run printed %q, want %q", got, "hello\n")
	}
	if m := mountsUnder(s.root); len(m) > 0 {
		t.Fatalf("mounts left behind:\n%s", strings.Join(m, "\n"))
	}
}
