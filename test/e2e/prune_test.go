package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pruneRow returns the TOTAL column of a `strata df` row.
func pruneRow(t *testing.T, df, typ string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + typ + `\s+(\d+)\s+(\d+)\s`).FindStringSubmatch(df)
	if m == nil {
		t.Fatalf("no %q row in df:\n%s", typ, df)
	}
	return m[1]
}

func pruneCount(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}

// TestPruneAndDf: df counts images, cache records and cache mounts; prune
// with --filter until= keeps what is young; prune removes the cache records
// and the dangling image, and frees their blobs and layer dirs but not the
// named image's; --all, like docker system prune -a, also removes every
// image and empties the cache mounts.
func TestPruneAndDf(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\n" +
		"RUN --mount=type=cache,target=/c echo run >> /c/log; cat /c/log | wc -l > /runs\n" +
		"RUN dd if=/dev/zero of=/big bs=1k count=200 2>/dev/null\n"
	ctx := bldContext(t, df, nil)
	s.must("build", "-q", "-t", "kept", ctx)
	dangling := bldContext(t, "FROM busybox\nRUN echo dangling > /d\n", nil)
	s.must("build", "-q", dangling)

	out := s.must("df").stdout
	for typ, want := range map[string]string{"Images": "3", "Build Cache": "3", "Cache mounts": "1"} {
		if got := pruneRow(t, out, typ); got != want {
			t.Errorf("df: %s TOTAL = %s, want %s:\n%s", typ, got, want, out)
		}
	}
	if !strings.Contains(out, "Layers: ") {
		t.Errorf("df has no layer line:\n%s", out)
	}
	v := s.must("df", "-v").stdout
	for _, want := range []string{"kept", "<none>", "CACHE ID", "Cache mounts:"} {
		if !strings.Contains(v, want) {
			t.Errorf("df -v lacks %q:\n%s", want, v)
		}
	}

	r := s.must("prune", "-f", "--filter", "until=24h")
	if !strings.Contains(r.stdout, "Total reclaimed space: 0B") {
		t.Errorf("prune --filter until=24h removed something young:\n%s", r.stdout)
	}
	blobs := pruneCount(t, filepath.Join(s.root, "blobs", "sha256"))
	r = s.must("prune", "-f")
	if !strings.Contains(r.stdout, "Deleted Images:") || !strings.Contains(r.stdout, "Total reclaimed space: ") || strings.Contains(r.stdout, "space: 0B") {
		t.Errorf("prune output:\n%s", r.stdout)
	}
	out = s.must("df").stdout
	for typ, want := range map[string]string{"Images": "2", "Build Cache": "0", "Cache mounts": "1"} {
		if got := pruneRow(t, out, typ); got != want {
			t.Errorf("after prune: %s TOTAL = %s, want %s:\n%s", typ, got, want, out)
		}
	}
	if after := pruneCount(t, filepath.Join(s.root, "blobs", "sha256")); after >= blobs {
		t.Errorf("prune left %d blobs of %d: the dangling image's were not collected", after, blobs)
	}
	if got := s.must("run", "--rm", "kept", "cat", "/runs").stdout; got != "1\n" {
		t.Errorf("the named image lost its files: /runs = %q", got)
	}
	// The cache is gone, the cache mount is not: the RUN runs again and
	// sees the mount's earlier content.
	out = s.must("build", "--progress=plain", "-t", "kept", ctx).stderr
	cacheWant(t, out, map[string]string{"RUN --mount=type=cache": "DONE"})
	if got := s.must("run", "--rm", "kept", "cat", "/runs").stdout; got != "2\n" {
		t.Errorf("after prune without --all the cache mount should be kept: /runs = %q", got)
	}

	// --all is docker system prune -a: every image too (strata has no
	// containers, so none is in use), and the cache mounts.
	r = s.must("prune", "-f", "--all")
	if !strings.Contains(r.stdout, "untagged: kept:latest\n") {
		t.Errorf("prune --all did not untag kept:\n%s", r.stdout)
	}
	if got := s.must("images", "-q").stdout; got != "" {
		t.Errorf("prune --all left images:\n%s", got)
	}
	out = s.must("df").stdout
	for typ, want := range map[string]string{"Images": "0", "Build Cache": "0", "Cache mounts": "0"} {
		if got := pruneRow(t, out, typ); got != want {
			t.Errorf("after prune --all: %s TOTAL = %s, want %s:\n%s", typ, got, want, out)
		}
	}
	if n := pruneCount(t, filepath.Join(s.root, "cachemounts")); n != 0 {
		t.Errorf("prune --all left %d cache mounts", n)
	}
	s.must("import", env.busyboxTar, "busybox:latest") // removed with every image
	s.must("build", "-q", "-t", "kept", ctx)
	if got := s.must("run", "--rm", "kept", "cat", "/runs").stdout; got != "1\n" {
		t.Errorf("after prune --all the cache mount should start empty: /runs = %q", got)
	}

	// Without -f, prune asks, and "n" keeps everything.
	r = s.runIn([]byte("n\n"), "prune")
	if r.code != 0 || strings.Contains(r.stdout, "Total reclaimed") {
		t.Errorf("prune answered n: exit %d\n%s", r.code, r.stdout)
	}
	if got := pruneRow(t, s.must("df").stdout, "Build Cache"); got == "0" {
		t.Error("prune answered n removed the cache")
	}
}
