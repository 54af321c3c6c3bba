package store

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	must(t, err)
	return s
}

// randomImage returns a random image with a fixed created time.
func randomImage(t testing.TB, created time.Time) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	must(t, err)
	cf, err := img.ConfigFile()
	must(t, err)
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	img, err = mutate.ConfigFile(img, cf)
	must(t, err)
	return img
}

type tarEntry struct {
	name     string
	typ      byte
	body     string
	mode     int64
	linkname string
}

func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if e.typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body)),
			Linkname: e.linkname, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		must(t, tw.WriteHeader(hdr))
		if e.typ == tar.TypeReg {
			_, err := tw.Write([]byte(e.body))
			must(t, err)
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}

// tarImage builds an OCI image whose layers are the given uncompressed tars.
func tarImage(t testing.TB, tars ...[]byte) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, b := range tars {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(b, types.OCIUncompressedLayer)})
		must(t, err)
	}
	return img
}

func ctxT(t testing.TB) context.Context { return t.Context() }

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func blobCount(t testing.TB, s *Store) int {
	return len(listDir(t, filepath.Join(s.Root(), "blobs", "sha256")))
}

// checkImage runs validate.Image on img. validate.Image gunzips every layer,
// so for images with uncompressed or zstd layers it runs in Fast mode and
// the layer digests and diff_ids are checked here by hashing the streams.
func checkImage(t testing.TB, img v1.Image) {
	t.Helper()
	layers, err := img.Layers()
	must(t, err)
	gzipOnly := true
	for _, l := range layers {
		mt, err := l.MediaType()
		must(t, err)
		if mt != types.DockerLayer && mt != types.OCILayer {
			gzipOnly = false
		}
	}
	if gzipOnly {
		must(t, validate.Image(img))
		return
	}
	must(t, validate.Image(img, validate.Fast))
	cf, err := img.ConfigFile()
	must(t, err)
	m, err := img.Manifest()
	must(t, err)
	for i, l := range layers {
		for _, c := range []struct {
			open func() (io.ReadCloser, error)
			want v1.Hash
		}{{l.Compressed, m.Layers[i].Digest}, {l.Uncompressed, cf.RootFS.DiffIDs[i]}} {
			rc, err := c.open()
			must(t, err)
			h, _, err := v1.SHA256(rc)
			rc.Close()
			must(t, err)
			if h != c.want {
				t.Errorf("layer %d: content hashes to %s, want %s", i, h, c.want)
			}
		}
	}
}
