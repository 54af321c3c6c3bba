package e2e

import (
	"regexp"
	"strconv"
	"testing"
)

// TestBuildTimeSummary checks the line a build ends with, which says where
// its time went, every part named: a RUN that sleeps a second shows in
// the RUN part.
func TestBuildTimeSummary(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox AS compiler\nRUN sleep 1 && echo built >/out\nFROM busybox\nCOPY --from=compiler /out /out\n"
	r := s.must("build", "--progress", "plain", "-t", "summary:test", bldContext(t, df, nil))
	re := regexp.MustCompile(`time spent \(summed over steps\): RUN ([0-9.]+)s, COPY/ADD ([0-9.]+)s, commit ([0-9.]+)s, layer tar\+hash ([0-9.]+)s, compression ([0-9.]+)s, export ([0-9.]+)s`)
	m := re.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no time summary line in the build's output:\n%s", r.stderr)
	}
	run, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	if run < 1 {
		t.Errorf("RUN: got %.2fs, want at least the 1s the RUN sleeps", run)
	}
}
