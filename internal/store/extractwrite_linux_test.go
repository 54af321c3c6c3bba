package store

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/strata-build/strata/internal/layer"
)

// extractTestImage is an image of three layers, the first two gzip (as
// registries serve them) and the last uncompressed, with a whiteout, an
// opaque dir, a symlink and a hardlink.
func extractTestImage(t *testing.T) v1.Image {
	t.Helper()
	tars := [][]byte{
		makeTar(t,
			tarEntry{name: "etc/", typ: tar.TypeDir},
			tarEntry{name: "etc/os-release", typ: tar.TypeReg, body: strings.Repeat("ID=test\n", 1000)},
			tarEntry{name: "etc/old", typ: tar.TypeReg, body: "old"},
			tarEntry{name: "var/", typ: tar.TypeDir},
			tarEntry{name: "var/cache/", typ: tar.TypeDir},
			tarEntry{name: "var/cache/a", typ: tar.TypeReg, body: "a"},
			tarEntry{name: "bin/", typ: tar.TypeDir},
			tarEntry{name: "bin/sh", typ: tar.TypeReg, body: "#!sh", mode: 0o755},
			tarEntry{name: "bin/ash", typ: tar.TypeLink, linkname: "bin/sh"},
		),
		makeTar(t,
			tarEntry{name: "etc/", typ: tar.TypeDir},
			tarEntry{name: "etc/.wh.old", typ: tar.TypeReg},
			tarEntry{name: "var/", typ: tar.TypeDir},
			tarEntry{name: "var/cache/", typ: tar.TypeDir},
			tarEntry{name: "var/cache/.wh..wh..opq", typ: tar.TypeReg},
			tarEntry{name: "var/cache/b", typ: tar.TypeReg, body: "b"},
			tarEntry{name: "usr/", typ: tar.TypeDir},
			tarEntry{name: "usr/sh", typ: tar.TypeSymlink, linkname: "../bin/sh"},
		),
		makeTar(t,
			tarEntry{name: "app/", typ: tar.TypeDir},
			tarEntry{name: "app/data", typ: tar.TypeReg, body: strings.Repeat("x", 300000)},
		),
	}
	img := tarImage(t, tars[2])
	base := tarImage(t)
	for _, b := range tars[:2] {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		must(t, err)
		base, err = mutate.AppendLayers(base, l)
		must(t, err)
	}
	top, err := img.Layers()
	must(t, err)
	img, err = mutate.AppendLayers(base, top...)
	must(t, err)
	return img
}

// TestWriteImageExtract writes one image with its layers extracted while
// their blobs are written, and the same image the old way (blobs, then
// LayerDirs extracting from them): the two stores must agree on the image,
// its sizes and every layer dir's tree.
func TestWriteImageExtract(t *testing.T) {
	ctx := ctxT(t)
	img := extractTestImage(t)
	streamed, plain := openStore(t), openStore(t)

	got, err := streamed.WriteImageWith(ctx, img, WriteImageOptions{Names: []string{"x:1"}, Extract: true})
	must(t, err)
	want, err := plain.WriteImage(ctx, img, "x:1")
	must(t, err)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("records differ (-extracted +plain):\n%s", diff)
	}
	cf, err := img.ConfigFile()
	must(t, err)
	m, err := img.Manifest()
	must(t, err)
	var gotDirs []LayerDir
	for _, c := range ChainIDs(cf.RootFS.DiffIDs) {
		ld, ok := streamed.HasLayerDir(c)
		if !ok {
			t.Fatalf("layer dir %s was not extracted by the write", c)
		}
		gotDirs = append(gotDirs, ld)
	}
	stored, _, err := plain.Image("x:1")
	must(t, err)
	wantDirs, err := plain.LayerDirs(ctx, stored)
	must(t, err)
	for i := range wantDirs {
		if gotDirs[i].DiffID != wantDirs[i].DiffID || gotDirs[i].ChainID != wantDirs[i].ChainID {
			t.Errorf("layer %d: got %+v, want %+v", i, gotDirs[i], wantDirs[i])
		}
		g, err := treeHash(ctx, gotDirs[i].Path)
		must(t, err)
		w, err := treeHash(ctx, wantDirs[i].Path)
		must(t, err)
		if g != w {
			t.Errorf("layer %d: the extracted trees differ: %s against %s", i, g, w)
		}
		for _, size := range []func(*Store, v1.Descriptor) (int64, error){(*Store).LayerSize, (*Store).LayerContentSize} {
			g, err := size(streamed, m.Layers[i])
			must(t, err)
			w, err := size(plain, m.Layers[i])
			must(t, err)
			if g != w {
				t.Errorf("layer %d: size %d, want %d", i, g, w)
			}
		}
	}
	// The sizes come from the cache the write filled: right, as above.
	for _, dir := range []string{"sizes", "content-sizes"} {
		if n := len(listDir(t, filepath.Join(streamed.Root(), dir))); n != len(m.Layers) {
			t.Errorf("%s/ has %d entries, want %d", dir, n, len(m.Layers))
		}
	}
	stImg, _, err := streamed.Image("x:1")
	must(t, err)
	checkImage(t, stImg)
}

// badLayer is a layer whose compressed stream is not what its digest says.
type badLayer struct {
	v1.Layer
	data []byte // served as the compressed stream
	// ctx, when set, is the write's: the second read cancels it and waits
	// for it to end (a download cut by Ctrl-C).
	ctx    context.Context
	cancel context.CancelFunc
}

func (l *badLayer) Compressed() (io.ReadCloser, error) {
	if l.ctx == nil {
		return io.NopCloser(bytes.NewReader(l.data)), nil
	}
	return io.NopCloser(&blockingReader{r: bytes.NewReader(l.data), l: l}), nil
}

type blockingReader struct {
	r    io.Reader
	l    *badLayer
	read bool
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if !r.read {
		r.read = true
		return r.r.Read(p[:min(len(p), 1000)])
	}
	r.l.cancel()
	<-r.l.ctx.Done()
	return 0, r.l.ctx.Err()
}

// badImage is img with its layer i replaced by l.
type badImage struct {
	v1.Image
	i int
	l v1.Layer
}

func (b *badImage) Layers() ([]v1.Layer, error) {
	ls, err := b.Image.Layers()
	if err != nil {
		return nil, err
	}
	ls = append([]v1.Layer(nil), ls...)
	ls[b.i] = b.l
	return ls, nil
}

// TestWriteImageExtractRefuses writes images whose layer is damaged, whose
// config names a wrong diff_id, or whose download is cancelled: the write
// fails and leaves no layer dir of that layer, no blob of it, no image and
// nothing in tmp/.
func TestWriteImageExtractRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, img v1.Image, raw []byte) (v1.Image, *badLayer)
		wantErr string
	}{
		{"a flipped byte", func(t *testing.T, img v1.Image, raw []byte) (v1.Image, *badLayer) {
			raw[len(raw)/2] ^= 0xff
			return img, &badLayer{data: raw}
		}, "the downloaded content hashes to"},
		{"cut short", func(t *testing.T, img v1.Image, raw []byte) (v1.Image, *badLayer) {
			return img, &badLayer{data: raw[:len(raw)/2]}
		}, "the downloaded content hashes to"},
		{"a wrong diff_id", func(t *testing.T, img v1.Image, raw []byte) (v1.Image, *badLayer) {
			cf, err := img.ConfigFile()
			must(t, err)
			cf = cf.DeepCopy()
			cf.RootFS.DiffIDs[1] = cf.RootFS.DiffIDs[0]
			img, err = mutate.ConfigFile(img, cf)
			must(t, err)
			return img, &badLayer{data: raw}
		}, "the config says"},
		{"cancelled", func(t *testing.T, img v1.Image, raw []byte) (v1.Image, *badLayer) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			return img, &badLayer{data: raw, ctx: ctx, cancel: cancel}
		}, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			s := openStore(t)
			img := extractTestImage(t)
			ls, err := img.Layers()
			must(t, err)
			rc, err := ls[1].Compressed()
			must(t, err)
			raw, err := io.ReadAll(rc)
			must(t, err)
			img, bad := tc.damage(t, img, raw)
			bad.Layer = ls[1]
			if bad.ctx != nil {
				ctx = bad.ctx
			}
			_, err = s.WriteImageWith(ctx, &badImage{Image: img, i: 1, l: bad}, WriteImageOptions{Names: []string{"x:1"}, Extract: true})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want one saying %q", err, tc.wantErr)
			}
			cf, err := img.ConfigFile()
			must(t, err)
			if _, ok := s.HasLayerDir(ChainIDs(cf.RootFS.DiffIDs)[1]); ok {
				t.Error("the layer dir of the bad layer is there")
			}
			d, err := ls[1].Digest()
			must(t, err)
			if s.HasBlob(d) {
				t.Error("the blob of the bad layer is there")
			}
			if _, _, err := s.Image("x:1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("the image is there: %v", err)
			}
			for _, dir := range []string{"tmp", "layers"} {
				for _, e := range listDir(t, filepath.Join(s.Root(), dir)) {
					if dir == "tmp" || !isHex(e) {
						t.Errorf("left in %s/: %s", dir, e)
					}
					if _, err := os.Stat(filepath.Join(s.Root(), dir, e, "diffid")); dir == "layers" && err != nil {
						t.Errorf("half a layer dir in layers/: %s", e)
					}
				}
			}
		})
	}
}

// TestWriteLayerBlobSizes checks that a layer written from a directory has
// its content size (the size docker shows) recorded as it is written, so
// that writing an image of it does not read the blob again, and that the
// record is the size ContentSize reads from the blob.
func TestWriteLayerBlobSizes(t *testing.T) {
	s := openStore(t)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "f"), bytes.Repeat([]byte("x"), 5000), 0o644))
	must(t, os.Symlink("f", filepath.Join(dir, "l")))
	must(t, os.Link(filepath.Join(dir, "f"), filepath.Join(dir, "h")))
	h, _, err := s.WriteLayerBlob(ctxT(t), dir, layer.WriteOptions{Format: layer.DiffFormat}, nil)
	must(t, err)
	b, err := os.ReadFile(s.path("content-sizes", h.Hex))
	if err != nil {
		t.Fatalf("no content size recorded for the layer: %v", err)
	}
	rc, err := s.OpenBlob(h)
	must(t, err)
	defer rc.Close()
	want, err := layer.ContentSize(rc)
	must(t, err)
	if got := string(b); got != strconv.FormatInt(want, 10) || want != 5001 {
		t.Errorf("recorded content size %s, want ContentSize's %d (5000 + the symlink's 1)", got, want)
	}
}
