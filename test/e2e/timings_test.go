package e2e

import (
	"regexp"
	"strconv"
	"testing"
)

var summaryLine = regexp.MustCompile(`time spent \(summed over steps\): snapshot ([0-9.]+)s, RUN ([0-9.]+)s, COPY/ADD ([0-9.]+)s, commit ([0-9.]+)s, layer tar\+hash ([0-9.]+)s \(([0-9.]+)s of it beside other steps\), compression ([0-9.]+)s, export ([0-9.]+)s`)

// summaryPart returns part i (1: snapshot, 2: RUN, ...; 6 is the part of
// the layer tar+hash that ran beside other steps) of the time summary line
// in out.
func summaryPart(t *testing.T, out string, i int) float64 {
	t.Helper()
	m := summaryLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no time summary line in the build's output:\n%s", out)
	}
	v, err := strconv.ParseFloat(m[i], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBuildTimeSummary checks the line a build ends with, which says where
// its time went, every part named: a RUN that sleeps a second shows in
// the RUN part; under the native snapshotter, the copies of a 200 MB parent
// tree show in the snapshot part, and its layer's tar beside the steps
// after it.
func TestBuildTimeSummary(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox AS compiler\nRUN sleep 1 && echo built >/out\nFROM busybox\nCOPY --from=compiler /out /out\n"
	r := s.must("build", "--progress", "plain", "-t", "summary:test", bldContext(t, df, nil))
	if run := summaryPart(t, r.stderr, 2); run < 1 {
		t.Errorf("RUN: got %.2fs, want at least the 1s the RUN sleeps", run)
	}
	df = "FROM busybox\nRUN head -c 200000000 /dev/urandom >/big\nRUN true\nRUN true\n"
	r = s.must("build", "--snapshotter", "native", "--progress", "plain", "-t", "summary:native", bldContext(t, df, nil))
	if snap := summaryPart(t, r.stderr, 1); snap < 0.01 {
		t.Errorf("snapshot under native: got %.2fs, want the time of copying 200 MB twice (at least 0.01s)", snap)
	}
	// The 200 MB layer is tarred while the next two steps copy it.
	if beside := summaryPart(t, r.stderr, 6); beside < 0.01 {
		t.Errorf("layer tar+hash beside other steps: got %.2fs, want the time of the 200 MB layer's tar while the two RUN true copied it (at least 0.01s)", beside)
	}
}
