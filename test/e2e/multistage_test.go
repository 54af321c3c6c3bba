package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The helpers of the multi-stage tests are prefixed with multi.

func TestMultiTargetMiddleStage(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox AS first\n" +
		"RUN echo first > /first\n" +
		"FROM first AS middle\n" +
		"RUN echo middle > /middle\n" +
		"FROM middle AS last\n" +
		"RUN echo last > /last\n"
	r := s.must("build", "--progress=plain", "--target", "middle", "-t", "mid", bldContext(t, df, nil))
	e := bldExport(t, s, "mid")
	if got := bldFile(t, e, "first"); got != "first\n" {
		t.Errorf("/first = %q: FROM a previous stage lost its files", got)
	}
	if got := bldFile(t, e, "middle"); got != "middle\n" {
		t.Errorf("/middle = %q", got)
	}
	if _, ok := e["last"]; ok {
		t.Errorf("--target middle built the last stage too")
	}
	if strings.Contains(r.stderr, "echo last") {
		t.Errorf("the stage after the target ran:\n%s", r.stderr)
	}
}

func TestMultiUnneededStageNeverRuns(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox AS broken\n" +
		"RUN echo BRO$((1+1))KEN; false\n" +
		"FROM busybox AS good\n" +
		"RUN echo fine > /fine\n"
	r := s.must("build", "--progress=plain", "-t", "good", bldContext(t, df, nil))
	if strings.Contains(r.stderr, "BRO2KEN") || strings.Contains(r.stderr, "[broken") {
		t.Errorf("the stage the target does not need ran:\n%s", r.stderr)
	}
	if got := bldFile(t, bldExport(t, s, "good"), "fine"); got != "fine\n" {
		t.Errorf("/fine = %q", got)
	}
}

// multiIntervals builds three independent stages that each record when
// their RUN started and ended, and returns the [start, end] intervals.
func multiIntervals(t *testing.T, s *strata, extra ...string) [][2]float64 {
	t.Helper()
	// busybox's date has no %N: /proc/uptime gives centiseconds, and is the
	// same clock in every PID namespace.
	var df strings.Builder
	names := []string{"a", "b", "c"}
	for _, n := range names {
		fmt.Fprintf(&df, "FROM busybox AS %s\n", n)
		fmt.Fprintf(&df, "RUN echo %s > /id; cut -d' ' -f1 /proc/uptime > /start; sleep 2; cut -d' ' -f1 /proc/uptime > /end\n", n)
	}
	df.WriteString("FROM busybox\n")
	for _, n := range names {
		fmt.Fprintf(&df, "COPY --from=%s /start /end /%s/\n", n, n)
	}
	tag := "intervals:" + strconv.Itoa(len(extra))
	args := append(append([]string{"build", "--progress=plain", "-t", tag}, extra...), bldContext(t, df.String(), nil))
	s.must(args...)
	e := bldExport(t, s, tag)
	var out [][2]float64
	for _, n := range names {
		var iv [2]float64
		for i, f := range []string{"start", "end"} {
			v, err := strconv.ParseFloat(strings.TrimSpace(bldFile(t, e, n+"/"+f)), 64)
			if err != nil {
				t.Fatalf("stage %s: /%s: %v", n, f, err)
			}
			iv[i] = v
		}
		out = append(out, iv)
	}
	return out
}

// multiOverlap reports whether every interval overlaps every other one.
func multiOverlap(ivs [][2]float64) bool {
	maxStart, minEnd := ivs[0][0], ivs[0][1]
	for _, iv := range ivs[1:] {
		maxStart = max(maxStart, iv[0])
		minEnd = min(minEnd, iv[1])
	}
	return maxStart < minEnd
}

func TestMultiIndependentStagesRunConcurrently(t *testing.T) {
	s := newStrata(t)
	ivs := multiIntervals(t, s)
	if !multiOverlap(ivs) {
		t.Errorf("the three independent stages ran at [start end] %v: they do not all overlap", ivs)
	}
	ivs = multiIntervals(t, s, "--jobs", "1", "--no-cache")
	for i := range ivs {
		for j := i + 1; j < len(ivs); j++ {
			if multiOverlap([][2]float64{ivs[i], ivs[j]}) {
				t.Errorf("with --jobs 1, stages %d and %d overlap: %v", i, j, ivs)
			}
		}
	}
}

func TestMultiCopyFromIndexAndName(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox AS builder\n" +
		"RUN echo built > /artifact\n" +
		"FROM busybox\n" +
		"RUN echo other > /other\n" +
		"FROM busybox\n" +
		"COPY --from=0 /artifact /by-index\n" +
		"COPY --from=Builder /artifact /by-name\n" +
		"COPY --from=1 /other /other\n"
	r := s.must("build", "--progress=plain", "-t", "copies", bldContext(t, df, nil))
	e := bldExport(t, s, "copies")
	for name, want := range map[string]string{"by-index": "built\n", "by-name": "built\n", "other": "other\n"} {
		if got := bldFile(t, e, name); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
	// The builder stage ran once, though two COPY use it.
	if n := len(regexp.MustCompile(`(?m)^#\d+ \[builder 2/2\] RUN`).FindAllString(r.stderr, -1)); n != 1 {
		t.Errorf("the builder's RUN appears %d times, want 1:\n%s", n, r.stderr)
	}
}
