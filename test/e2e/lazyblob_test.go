package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lazyBlobs returns the set of blob digests ("sha256:…") in the store.
func lazyBlobs(t *testing.T, s *strata) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		out["sha256:"+e.Name()] = true
	}
	return out
}

// imageLayers returns the diff_ids of ref.
func imageLayers(t *testing.T, s *strata, ref string) []string {
	t.Helper()
	var layers []string
	if err := json.Unmarshal([]byte(s.must("inspect", "--format", "{{json .RootFS.Layers}}", ref).stdout), &layers); err != nil {
		t.Fatal(err)
	}
	return layers
}

// TestLayersOfUnusedStagesKeepNoBlob checks that the layers of a stage that
// reaches no image (the build stage of cexDockerfile, used by COPY --from)
// are kept as layer dirs without a blob; that --target on that stage later
// writes their blobs from the dirs, hashing to the same diff_ids; that a
// record whose dir is gone misses instead of failing; and that a
// --cache-to mode=max export of such a build carries every layer.
func TestLayersOfUnusedStagesKeepNoBlob(t *testing.T) {
	s := newStrata(t)
	ctx := bldContext(t, cexDockerfile("busybox"), map[string]string{"src.txt": "hello\n"})
	s.must("build", "-t", "lazy:final", ctx)
	before := lazyBlobs(t, s)
	if r := s.run("fsck"); r.code != 0 {
		t.Fatalf("fsck after the build: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r := s.must("build", "--progress=plain", "--target", "build", "-t", "lazy:build", ctx)
	cexAllCached(t, r.stderr, 3)
	layers := imageLayers(t, s, "lazy:build")
	after := lazyBlobs(t, s)
	for _, l := range layers[1:] { // above the busybox base
		if before[l] {
			t.Errorf("layer %s of the build stage had a blob before any image used it", l)
		}
		if !after[l] {
			t.Errorf("layer %s of lazy:build has no blob", l)
		}
	}
	if r := s.run("fsck"); r.code != 0 {
		t.Errorf("fsck after --target build: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := s.must("run", "--rm", "lazy:build", "cat", "/built.txt").stdout; got != "built-HELLO\n" {
		t.Errorf("lazy:build holds %q", got)
	}

	t.Run("dir gone", func(t *testing.T) {
		s := newStrata(t)
		s.must("build", "-t", "lazy:final", ctx)
		blobs := lazyBlobs(t, s)
		// Drop every layer dir whose layer has no blob: what GC or a
		// damaged dir after a reboot leaves.
		dirs, err := os.ReadDir(filepath.Join(s.root, "layers"))
		if err != nil {
			t.Fatal(err)
		}
		dropped := 0
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(s.root, "layers", d.Name(), "diffid"))
			if err != nil {
				t.Fatal(err)
			}
			if !blobs[strings.TrimSpace(string(b))] {
				if err := os.RemoveAll(filepath.Join(s.root, "layers", d.Name())); err != nil {
					t.Fatal(err)
				}
				dropped++
			}
		}
		if dropped == 0 {
			t.Fatal("no blob-less layer dir to drop")
		}
		r := s.must("build", "--progress=plain", "--target", "build", "-t", "lazy:build", ctx)
		cacheWant(t, r.stderr, map[string]string{"COPY src.txt": "DONE", "RUN tr": "DONE", "RUN echo built": "DONE"})
	})

	t.Run("cache-to mode=max", func(t *testing.T) {
		a := newStrata(t)
		base := filepath.Join(t.TempDir(), "busybox.tar")
		a.must("save", "-o", base, "busybox:latest")
		a.must("build", "-t", "lazy:final", ctx) // no blobs for the build stage
		dir := filepath.Join(t.TempDir(), "cache")
		r := a.must("build", "--progress=plain", "--cache-to", "type=local,dest="+dir+",mode=max", ctx)
		// The build stage's layers were kept lazy (no blob, a stand-in
		// diff_id): an export of every stage runs those steps again to
		// record real layers; the final stage's steps stay cached.
		cacheWant(t, r.stderr, map[string]string{"COPY src.txt": "DONE", "RUN tr": "DONE", "RUN echo built": "DONE",
			"RUN echo final": "CACHED", "COPY --from=build": "CACHED", "RUN cat": "CACHED"})
		fresh := &strata{t: t, root: t.TempDir()}
		fresh.must("load", "-q", "-i", base)
		r = fresh.must("build", "--progress=plain", "--cache-from", "type=local,src="+dir, ctx)
		cexAllCached(t, r.stderr, 6)
	})
}
