//go:build linux

package store

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/layer"
)

// fsckFixture is a store holding an image extracted from tars that strata
// did not write (foreign: its layer dirs do not re-tar to their diff_ids)
// and a layer committed the way builds commit (built: WriteTar of a
// directory, an uncompressed blob, a layer dir and a cache record).
type fsckFixture struct {
	s       *Store
	img     v1.Image
	foreign []LayerDir // the image's layer dirs, bottom first
	built   LayerDir
	key     string // the cache record of the built layer
}

func newFsckFixture(t *testing.T) *fsckFixture {
	t.Helper()
	s := openStore(t)
	_, err := s.WriteImage(ctxT(t), whiteoutImage(t), "foreign:1")
	must(t, err)
	img, _, err := s.Image("foreign:1")
	must(t, err)
	dirs, err := s.LayerDirs(ctxT(t), img)
	must(t, err)
	// A tar padded past its end-of-archive marker, as tar(1) and Python
	// pad to whole records: its diff_id covers the padding.
	padded := tarImage(t, append(makeTar(t, tarEntry{name: "p", typ: tar.TypeReg, body: "padded"}), make([]byte, 8192)...))
	_, err = s.WriteImage(ctxT(t), padded, "padded:1")
	must(t, err)
	_, err = s.LayerDirs(ctxT(t), padded)
	must(t, err)

	src, err := s.TempDir("upper-")
	must(t, err)
	must(t, os.MkdirAll(filepath.Join(src, "usr", "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "usr", "bin", "tool"), []byte("#!/bin/sh\necho tool\n"), 0o755))
	must(t, os.Symlink("tool", filepath.Join(src, "usr", "bin", "alias")))
	var tarb bytes.Buffer
	_, err = layer.WriteTar(ctxT(t), src, &tarb, layer.WriteOptions{Format: layer.DiffFormat})
	must(t, err)
	h, _, err := s.WriteBlob(bytes.NewReader(tarb.Bytes()), nil)
	must(t, err)
	built, err := s.AddLayerDir(h, h, src)
	must(t, err)
	key := "00c0ffee"
	must(t, s.PutCache(CacheRecord{Key: key, Blobs: []v1.Hash{h}, Chains: []v1.Hash{h}}))
	return &fsckFixture{s: s, img: img, foreign: dirs, built: built, key: key}
}

func (x *fsckFixture) blobOf(t *testing.T, what string) string {
	t.Helper()
	m, err := x.img.Manifest()
	must(t, err)
	h := map[string]v1.Hash{"config": m.Config.Digest, "layer1": m.Layers[0].Digest, "built": x.built.DiffID}[what]
	return filepath.Join(x.s.Root(), "blobs", "sha256", h.Hex)
}

// kinds returns the sorted kinds of the problems of r.
func kinds(r *FsckReport) []string {
	out := []string{}
	for _, p := range r.Problems {
		out = append(out, p.Kind)
	}
	sort.Strings(out)
	return out
}

func TestFsck(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, x *fsckFixture)
		want   []string // kinds of the problems found, sorted
	}{
		{"clean", func(*testing.T, *fsckFixture) {}, []string{}},
		{"corrupt layer blob", func(t *testing.T, x *fsckFixture) {
			must(t, os.WriteFile(x.blobOf(t, "layer1"), []byte("bit rot"), 0o644))
		}, []string{FsckBlob, FsckImage}},
		{"missing config", func(t *testing.T, x *fsckFixture) {
			must(t, os.Remove(x.blobOf(t, "config")))
		}, []string{FsckImage}},
		{"cache record needs a missing blob", func(t *testing.T, x *fsckFixture) {
			must(t, os.Remove(x.blobOf(t, "built")))
		}, []string{FsckCache}},
		{"unreadable cache record", func(t *testing.T, x *fsckFixture) {
			must(t, os.WriteFile(filepath.Join(x.s.Root(), "cache", "abcd.json"), []byte("{trunc"), 0o644))
		}, []string{FsckCache}},
		{"built layer file changed", func(t *testing.T, x *fsckFixture) {
			must(t, os.WriteFile(filepath.Join(x.built.Path, "usr", "bin", "tool"), []byte("#!/bin/sh\necho evil\n"), 0o755))
		}, []string{FsckLayer}},
		{"built layer file removed", func(t *testing.T, x *fsckFixture) {
			must(t, os.Remove(filepath.Join(x.built.Path, "usr", "bin", "alias")))
		}, []string{FsckLayer}},
		{"foreign layer gains a file", func(t *testing.T, x *fsckFixture) {
			must(t, os.WriteFile(filepath.Join(x.foreign[0].Path, "extra"), nil, 0o644))
		}, []string{FsckLayer}},
		{"foreign layer loses its whiteout", func(t *testing.T, x *fsckFixture) {
			must(t, os.Remove(filepath.Join(x.foreign[1].Path, "d", "a")))
		}, []string{FsckLayer}},
		{"foreign layer mode changed", func(t *testing.T, x *fsckFixture) {
			must(t, os.Chmod(filepath.Join(x.foreign[0].Path, "b"), 0o600))
		}, []string{FsckLayer}},
		{"layer dir without diffid", func(t *testing.T, x *fsckFixture) {
			must(t, os.Remove(filepath.Join(filepath.Dir(x.foreign[0].Path), "diffid")))
		}, []string{FsckLayer}},
		{"stray file among blobs", func(t *testing.T, x *fsckFixture) {
			must(t, os.WriteFile(filepath.Join(x.s.Root(), "blobs", "sha256", "partial-123"), nil, 0o644))
		}, []string{FsckOther}},
		{"leftover temp files are no problem", func(t *testing.T, x *fsckFixture) {
			must(t, os.WriteFile(filepath.Join(x.s.Root(), "tmp", "blob-123"), []byte("half a blob"), 0o644))
			must(t, os.MkdirAll(filepath.Join(x.s.Root(), "tmp", "layer-456", "diff"), 0o755))
		}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newFsckFixture(t)
			tt.damage(t, x)
			rep, err := x.s.Fsck(ctxT(t), FsckOptions{})
			must(t, err)
			if diff := cmp.Diff(kinds(rep), tt.want); diff != "" {
				t.Fatalf("problems (-got +want):\n%s\n%+v", diff, rep.Problems)
			}
			if got, want := rep.Clean(), len(tt.want) == 0; got != want {
				t.Errorf("Clean() = %v, want %v", got, want)
			}
			if rep.Layers != 4 && len(tt.want) == 0 {
				t.Errorf("checked %d layer dirs, want 4", rep.Layers)
			}
			if rep.LayersUnverified != 0 && len(tt.want) == 0 {
				t.Errorf("%d layer dirs unverified, want 0", rep.LayersUnverified)
			}

			rep, err = x.s.Fsck(ctxT(t), FsckOptions{Repair: true})
			must(t, err)
			for _, p := range rep.Problems {
				if !p.Repaired {
					t.Errorf("not repaired: %+v", p)
				}
			}
			if len(listDir(t, filepath.Join(x.s.Root(), "tmp"))) != 0 {
				t.Errorf("tmp/ after repair: %v", listDir(t, filepath.Join(x.s.Root(), "tmp")))
			}
			rep, err = x.s.Fsck(ctxT(t), FsckOptions{})
			must(t, err)
			if len(rep.Problems) != 0 || rep.Temp != 0 {
				t.Errorf("after repair: problems %+v, %d temp entries", rep.Problems, rep.Temp)
			}
			// What is still named works: dropped layer dirs come back from
			// their blobs, and they check clean again.
			if img, _, err := x.s.Image("foreign:1"); err == nil {
				_, err := x.s.LayerDirs(ctxT(t), img)
				must(t, err)
				rep, err = x.s.Fsck(ctxT(t), FsckOptions{})
				must(t, err)
				if len(rep.Problems) != 0 {
					t.Errorf("after re-extraction: %+v", rep.Problems)
				}
			}
		})
	}
}

func TestFsckInUse(t *testing.T) {
	s := openStore(t)
	unlock, err := s.RLock()
	must(t, err)
	defer unlock()
	_, err = s.Fsck(ctxT(t), FsckOptions{})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("Fsck while the store is held: got %v, want ErrInUse", err)
	}
}
