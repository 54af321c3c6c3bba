package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// exportDigest is the cache manifest digest of a build's export line.
var exportDigest = regexp.MustCompile(`exporting cache to .* done: .* (sha256:[0-9a-f]{64})`)

// TestCacheMountsExportedToRegistry exports the contents of a RUN
// --mount=type=cache with --cache-to cache-mounts=true, and a fresh store
// (a new runner) with --cache-from sees them in the cache mount of a RUN
// that is not cached (its ARG changed). Exporting again unchanged gives
// the same cache digest (the cache mount's layer is content-addressed).
func TestCacheMountsExportedToRegistry(t *testing.T) {
	reg := startRegistry(t)
	a := newStrata(t)
	a.must("push", "-q", "busybox:latest", reg+"/busybox:latest")
	df := fmt.Sprintf("FROM %s/busybox:latest\nARG V=1\n"+
		"RUN --mount=type=cache,id=c1,target=/c sh -c 'echo \"seen: $(cat /c/seen 2>/dev/null || echo nothing)\"; echo \"v$V\" >> /c/seen'\n", reg)
	ctx := writeContext(t, map[string]string{"Dockerfile": df})
	cache := "type=registry,ref=" + reg + "/cache:mounts"

	r1 := a.must("build", "--progress=plain", "--cache-to", cache+",mode=max,cache-mounts=true", "-t", "m", ctx)
	if !strings.Contains(r1.stderr, "seen: nothing") || !strings.Contains(r1.stderr, ", 1 cache mounts, ") {
		t.Fatalf("the first build did not start from an empty cache mount and export it:\n%s", r1.stderr)
	}
	// Unchanged (the step is cached, the cache mount untouched): the same
	// cache, the same digest.
	r1b := a.must("build", "--progress=plain", "--cache-to", cache+",mode=max,cache-mounts=true", "-t", "m", ctx)
	d1, d1b := exportDigest.FindStringSubmatch(r1.stderr), exportDigest.FindStringSubmatch(r1b.stderr)
	if d1 == nil || d1b == nil || d1[1] != d1b[1] {
		t.Errorf("exporting the unchanged cache again: got %v, want the first export's %v", d1b, d1)
	}

	fresh := &strata{t: t, root: t.TempDir()} // an empty store: a new runner
	r2 := fresh.must("build", "--progress=plain", "--cache-from", cache, "--build-arg", "V=2", "-t", "m", ctx)
	if !strings.Contains(r2.stderr, "restored 1 cache mounts from registry "+reg+"/cache:mounts") {
		t.Errorf("the fresh store does not say it restored the cache mount:\n%s", r2.stderr)
	}
	if !strings.Contains(r2.stderr, "seen: v1") {
		t.Errorf("the fresh store's RUN does not see the exported cache mount's file:\n%s", r2.stderr)
	}

	// Without cache-mounts=true no cache mount is exported.
	plain := "type=registry,ref=" + reg + "/cache:plain"
	a.must("build", "--progress=plain", "--cache-to", plain+",mode=max", "-t", "m", ctx)
	other := &strata{t: t, root: t.TempDir()}
	r3 := other.must("build", "--progress=plain", "--cache-from", plain, "--build-arg", "V=3", "-t", "m", ctx)
	if strings.Contains(r3.stderr, "restored") || !strings.Contains(r3.stderr, "seen: nothing") {
		t.Errorf("a cache exported without cache-mounts=true restored a cache mount:\n%s", r3.stderr)
	}

	// cache-mounts= belongs to --cache-to.
	if r := fresh.run("build", "--cache-from", cache+",cache-mounts=true", ctx); r.code == 0 || !strings.Contains(r.stderr, "cache-mounts= is for --cache-to") {
		t.Errorf("--cache-from with cache-mounts=: got exit %d, stderr %q", r.code, r.stderr)
	}
}
