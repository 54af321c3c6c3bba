package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestSquashHasItsOwnCreationTime: strata squash makes a new image, which
// gets its own creation time, as docker gives a squashed image; the history
// keeps the times of the instructions.
func TestSquashHasItsOwnCreationTime(t *testing.T) {
	s := newStrata(t)
	s.must("build", "-q", "-t", "sq:1", bldContext(t, "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n", nil))
	time.Sleep(1100 * time.Millisecond)
	s.must("squash", "--all", "-q", "-t", "sq:flat", "sq:1")
	created := func(ref string) time.Time {
		v := strings.TrimSpace(s.must("inspect", "-f", "{{.Created}}", ref).stdout)
		tm, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			t.Fatalf("inspect %s: Created %q: %v", ref, v, err)
		}
		return tm
	}
	orig, flat := created("sq:1"), created("sq:flat")
	if !flat.After(orig.Add(time.Second)) {
		t.Errorf("the squashed image was created %s, the original %s: want its own, later time", flat, orig)
	}
	got := s.must("history", "--format", "{{.CreatedAt}}", "sq:flat").stdout
	want := s.must("history", "--format", "{{.CreatedAt}}", "sq:1").stdout
	if got != want {
		t.Errorf("the squash changed the history's times:\n%s\nwant\n%s", got, want)
	}
}
