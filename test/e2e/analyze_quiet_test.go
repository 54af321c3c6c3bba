package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestBuildAnalyzeQuiet: build --analyze -q prints the image ID alone on
// stdout, as -q promises, and the analysis on stderr (it printed no
// analysis at all).
func TestBuildAnalyzeQuiet(t *testing.T) {
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": `FROM busybox
RUN dd if=/dev/zero of=/big bs=1M count=2
RUN rm /big
`})
	r := s.must("build", "-q", "--analyze", "-t", "waste:q", ctx)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(r.stdout) {
		t.Errorf("stdout = %q, want the image ID alone", r.stdout)
	}
	want := "RUN rm /big saves nothing"
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "Wasted: ") {
		t.Errorf("stderr lacks the analysis (%q):\n%s", want, r.stderr)
	}
}
