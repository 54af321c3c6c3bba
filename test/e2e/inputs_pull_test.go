package e2e

import (
	"strings"
	"testing"
)

// TestBuildPull: without --pull a base image in the store is used as it is
// (and pulled only when missing); with --pull, as buildx, the registry is
// asked again and a moved tag is followed.
func TestBuildPull(t *testing.T) {
	reg := startRegistry(t)
	ref := reg + "/inputs/base:1"
	pusher := newStrata(t)
	publish := func(v string) {
		t.Helper()
		pusher.must("build", "-t", "base:"+v, bldContext(t, "FROM busybox\nRUN echo "+v+" > /v\n", nil))
		pusher.must("push", "base:"+v, ref)
	}
	publish("one")
	s := newStrata(t)
	ctx := bldContext(t, "FROM "+ref+"\nRUN cat /v > /seen\n", nil)
	s.must("build", "-t", "p1", ctx) // missing: pulled
	if got := bldFile(t, bldExport(t, s, "p1"), "seen"); got != "one\n" {
		t.Fatalf("first build saw %q, want one", got)
	}
	publish("two")
	s.must("build", "-t", "p2", ctx)
	if got := bldFile(t, bldExport(t, s, "p2"), "seen"); got != "one\n" {
		t.Errorf("without --pull the build saw %q, want the stored one", got)
	}
	s.must("build", "--pull", "-t", "p3", ctx)
	if got := bldFile(t, bldExport(t, s, "p3"), "seen"); got != "two\n" {
		t.Errorf("with --pull the build saw %q, want two (the moved tag)", got)
	}
	// --pull of an image whose registry does not answer fails, even though
	// the store has a copy under that name.
	s.must("tag", "p3", "127.0.0.1:9/gone/base:1")
	r := s.run("build", "--pull", bldContext(t, "FROM 127.0.0.1:9/gone/base:1\n", nil))
	if r.code == 0 {
		t.Errorf("--pull with the registry down succeeded; want the pull's error")
	}
}

// TestBuildNoCacheFilter: --no-cache-filter runs the named stages' steps
// again (by name or index) and keeps the cache of the others; a name that
// is no stage is refused.
func TestBuildNoCacheFilter(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox AS a\nRUN echo a > /a\n" +
		"FROM busybox AS b\nRUN echo b > /b\nCOPY --from=a /a /a\n"
	ctx := bldContext(t, df, nil)
	s.must("build", "-t", "ncf", ctx)
	tests := []struct {
		filter         string
		wantA, wantB   string
		wantCopyStatus string
	}{
		{"a", "DONE", "CACHED", "CACHED"},
		{"B", "CACHED", "DONE", "DONE"},
		{"0", "DONE", "CACHED", "CACHED"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			r := s.must("build", "--progress=plain", "--no-cache-filter", tt.filter, "-t", "ncf", ctx)
			if got := bldStatus(t, r.stderr, "RUN echo a"); got != tt.wantA {
				t.Errorf("RUN of stage a: %s, want %s", got, tt.wantA)
			}
			if got := bldStatus(t, r.stderr, "RUN echo b"); got != tt.wantB {
				t.Errorf("RUN of stage b: %s, want %s", got, tt.wantB)
			}
			if got := bldStatus(t, r.stderr, "COPY --from=a"); got != tt.wantCopyStatus {
				t.Errorf("COPY --from=a: %s, want %s", got, tt.wantCopyStatus)
			}
		})
	}
	r := s.run("build", "--no-cache-filter", "nosuch", ctx)
	if r.code == 0 || !strings.Contains(r.stderr, `--no-cache-filter "nosuch": no such stage (stages: 0 a, 1 b)`) {
		t.Errorf("--no-cache-filter nosuch: exit %d, stderr %q", r.code, r.stderr)
	}
}
