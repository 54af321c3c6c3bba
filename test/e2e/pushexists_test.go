package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestPushSaysLayerAlreadyExists: a push prints "Pushed" for the layers it
// uploads and, as docker push does, "Layer already exists" for those the
// registry has: a second image on the same base pushes only its own layer.
func TestPushSaysLayerAlreadyExists(t *testing.T) {
	host := startRegistry(t)
	s := newStrata(t)
	s.must("build", "-q", "-t", "app:1", bldContext(t, "FROM busybox\nRUN echo one > /one\n", nil))
	s.must("build", "-q", "-t", "app:2", bldContext(t, "FROM busybox\nRUN echo two > /two\n", nil))
	status := func(out string) []string {
		return regexp.MustCompile(`(?m)^[0-9a-f]{12}: (.*)$`).FindAllString(out, -1)
	}
	first := s.must("push", "app:1", host+"/app:1").stdout
	if got := strings.Join(status(first), "\n"); strings.Contains(got, "already exists") || strings.Count(got, ": Pushed") != 2 {
		t.Errorf("first push, to an empty registry:\n%s", first)
	}
	again := s.must("push", "app:1", host+"/app:1").stdout
	if got := strings.Join(status(again), "\n"); strings.Count(got, ": Layer already exists") != 2 {
		t.Errorf("the same push again:\n%s", again)
	}
	second := s.must("push", "app:2", host+"/app:2").stdout
	got := status(second)
	if len(got) != 2 || !strings.HasSuffix(got[0], ": Pushed") || !strings.HasSuffix(got[1], ": Layer already exists") {
		t.Errorf("push of an image on the same base: its own layer pushed, the base's already there:\n%s", second)
	}
}
