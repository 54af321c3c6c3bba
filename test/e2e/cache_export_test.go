package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The helpers of the cache export tests are prefixed with cex.

// cexDockerfile is a small multi-stage build on base.
func cexDockerfile(base string) string {
	return "FROM " + base + " AS build\n" +
		"COPY src.txt /src/src.txt\n" +
		"RUN tr a-z A-Z < /src/src.txt > /out.txt\n" +
		"RUN echo built-$(cat /out.txt) > /built.txt\n" +
		"FROM " + base + "\n" +
		"RUN echo final > /final\n" +
		"COPY --from=build /out.txt /built.txt /\n" +
		"RUN cat /out.txt /built.txt /final > /both\n" +
		"CMD [\"cat\", \"/both\"]\n"
}

// cexStatuses returns "name → status" of the RUN and COPY steps.
func cexStatuses(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, s := range cacheFileSteps(t, out) {
		got[s.name] = s.status
	}
	return got
}

// cexAllCached fails unless every RUN and COPY step of out is CACHED.
func cexAllCached(t *testing.T, out string, wantSteps int) {
	t.Helper()
	steps := cexStatuses(t, out)
	if len(steps) != wantSteps {
		t.Fatalf("%d RUN/COPY steps, want %d:\n%s", len(steps), wantSteps, out)
	}
	for name, st := range steps {
		if st != "CACHED" {
			t.Errorf("%q is %s, want CACHED: the imported cache missed\n%s", name, st, out)
		}
	}
}

// TestCacheExportRegistryFreshStore: a build exports its cache (mode=max) to
// Debian's docker-registry; the same build in an empty store, with the base
// image and the cache taken from the registry, runs no RUN and makes the same
// image.
func TestCacheExportRegistryFreshStore(t *testing.T) {
	reg := startRegistry(t)
	a := newStrata(t)
	a.must("push", "-q", "busybox:latest", reg+"/busybox:latest")
	ctx := bldContext(t, cexDockerfile(reg+"/busybox:latest"), map[string]string{"src.txt": "hello\n"})
	cache := "type=registry,ref=" + reg + "/cache:main"

	iid := filepath.Join(t.TempDir(), "iid")
	r1 := a.must("build", "--progress=plain", "--iidfile", iid, "--cache-to", cache+",mode=max", "-t", "app", ctx)
	id1 := readTrim(t, iid)
	if !strings.Contains(r1.stderr, "exporting cache to registry "+reg+"/cache:main done") {
		t.Fatalf("no export line in the build output:\n%s", r1.stderr)
	}

	fresh := &strata{t: t, root: t.TempDir()} // an empty store: a new machine
	r2 := fresh.must("build", "--progress=plain", "--iidfile", iid, "--cache-from", cache, "-t", "app", ctx)
	cexAllCached(t, r2.stderr, 6)
	if id2 := readTrim(t, iid); id2 != id1 {
		t.Errorf("the build from the imported cache made image %s, the first build %s: want the same", id2, id1)
	}
	if got := fresh.must("run", "--rm", "app").stdout; got != "HELLO\nbuilt-HELLO\nfinal\n" {
		t.Errorf("the image from the imported cache prints %q", got)
	}
	t.Logf("first build %.2fs; empty store with --cache-from %.2fs", r1.elapsed.Seconds(), r2.elapsed.Seconds())

	// A changed source reruns only what depends on it, even from the import.
	cacheWrite(t, filepath.Join(ctx, "src.txt"), "changed\n", 0o644)
	fresh2 := &strata{t: t, root: t.TempDir()}
	r3 := fresh2.must("build", "--progress=plain", "--cache-from", cache, ctx)
	cacheWant(t, r3.stderr, map[string]string{
		"COPY src.txt":   "DONE",
		"RUN tr":         "DONE",
		"RUN echo built": "DONE",
		"RUN echo final": "CACHED",
		"COPY --from":    "DONE",
		"RUN cat":        "DONE",
	})
}

// TestCacheExportLocalDir: the same through an OCI layout directory
// (type=local), with mode=max and then mode=min, which exports only the
// target stage's steps: the other stage runs again on the new machine, and
// the target stage still hits, since its keys do not depend on where the
// other stage's result came from.
func TestCacheExportLocalDir(t *testing.T) {
	a := newStrata(t)
	base := filepath.Join(t.TempDir(), "busybox-save.tar")
	a.must("save", "-o", base, "busybox:latest")
	ctx := bldContext(t, cexDockerfile("busybox"), map[string]string{"src.txt": "hello\n"})
	maxDir, minDir := filepath.Join(t.TempDir(), "max"), filepath.Join(t.TempDir(), "min")

	iid := filepath.Join(t.TempDir(), "iid")
	a.must("build", "--progress=plain", "--iidfile", iid, "--cache-to", "type=local,dest="+maxDir+",mode=max", "--cache-to", "type=local,dest="+minDir, ctx)
	id1 := readTrim(t, iid)

	// A new machine that got the base image the same way (a docker archive).
	fresh := &strata{t: t, root: t.TempDir()}
	fresh.must("load", "-q", "-i", base)
	r := fresh.must("build", "--progress=plain", "--iidfile", iid, "--cache-from", "type=local,src="+maxDir, ctx)
	cexAllCached(t, r.stderr, 6)
	if id2 := readTrim(t, iid); id2 != id1 {
		t.Errorf("mode=max: image %s, want the first build's %s", id2, id1)
	}

	fresh = &strata{t: t, root: t.TempDir()}
	fresh.must("load", "-q", "-i", base)
	r = fresh.must("build", "--progress=plain", "--iidfile", iid, "--cache-from", "type=local,src="+minDir, ctx)
	cacheWant(t, r.stderr, map[string]string{
		"COPY src.txt":   "DONE",
		"RUN tr":         "DONE",
		"RUN echo built": "DONE",
		"RUN echo final": "CACHED",
		"COPY --from":    "CACHED",
		"RUN cat":        "CACHED",
	})
	if id2 := readTrim(t, iid); id2 != id1 {
		t.Errorf("mode=min: image %s, want the first build's %s", id2, id1)
	}

	// A cache that is not there is a warning, not a failure.
	r = fresh.must("build", "--progress=plain", "--cache-from", "type=local,src="+filepath.Join(t.TempDir(), "none"), ctx)
	if !strings.Contains(r.stderr, "[Warning] --cache-from") {
		t.Errorf("no warning for a missing cache:\n%s", r.stderr)
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
