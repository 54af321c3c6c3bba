package e2e

import (
	"strings"
	"testing"
)

// TestHealthcheckStartInterval: HEALTHCHECK --start-interval reaches the
// image config (Healthcheck.StartInterval in nanoseconds, as BuildKit
// writes it), survives a cached rebuild and a child image, and a changed
// value is a new step.
func TestHealthcheckStartInterval(t *testing.T) {
	s := newStrata(t)
	health := func(ref string) string {
		return strings.TrimSpace(s.must("inspect", "--format", "{{json .Config.Healthcheck}}", ref).stdout)
	}
	df := "FROM busybox\nHEALTHCHECK --interval=5s --start-interval=2s CMD true\n"
	s.must("build", "-t", "hc", bldContext(t, df, nil))
	want := `"StartInterval":2000000000`
	if got := health("hc"); !strings.Contains(got, want) || !strings.Contains(got, `"Interval":5000000000`) {
		t.Fatalf("Healthcheck %s, want %s and the interval", got, want)
	}
	s.must("build", "-t", "hc-again", bldContext(t, df, nil))
	if got := health("hc-again"); !strings.Contains(got, want) {
		t.Errorf("cached rebuild: Healthcheck %s, want %s", got, want)
	}
	s.must("build", "-t", "hc-child", bldContext(t, "FROM hc\nLABEL child=1\n", nil))
	if got := health("hc-child"); !strings.Contains(got, want) {
		t.Errorf("child image: Healthcheck %s, want %s", got, want)
	}
	s.must("build", "-t", "hc3", bldContext(t, strings.Replace(df, "2s", "3s", 1), nil))
	if got := health("hc3"); !strings.Contains(got, `"StartInterval":3000000000`) {
		t.Errorf("--start-interval=3s: Healthcheck %s", got)
	}
}
