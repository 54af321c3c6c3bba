package store

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/strata-build/strata/internal/layer"
)

// zstdLayer is a partial.CompressedLayer over zstd bytes.
type zstdLayer struct {
	b []byte
	h v1.Hash
}

func (l *zstdLayer) Digest() (v1.Hash, error) { return l.h, nil }
func (l *zstdLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}
func (l *zstdLayer) Size() (int64, error) { return int64(len(l.b)), nil }
func (l *zstdLayer) MediaType() (types.MediaType, error) {
	return types.OCILayerZStd, nil
}

func TestZstdLayer(t *testing.T) {
	tb := makeTar(t, tarEntry{name: "z", typ: tar.TypeReg, body: "zstd content"})
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	must(t, err)
	_, err = zw.Write(tb)
	must(t, err)
	must(t, zw.Close())
	h, _, err := v1.SHA256(bytes.NewReader(buf.Bytes()))
	must(t, err)
	l, err := partial.CompressedToLayer(&zstdLayer{b: buf.Bytes(), h: h})
	must(t, err)
	img, err := mutate.Append(tarImage(t), mutate.Addendum{Layer: l})
	must(t, err)

	s := openStore(t)
	rec, err := s.WriteImage(ctxT(t), img, "z")
	must(t, err)
	want, err := layer.ContentSize(bytes.NewReader(tb))
	must(t, err)
	if rec.Size != want {
		t.Errorf("size: got %d, want %d", rec.Size, want)
	}
	got, _, err := s.Image("z")
	must(t, err)
	checkImage(t, got)
	layers, err := got.Layers()
	must(t, err)
	sum := sha256.Sum256(tb)
	if d, _ := layers[0].DiffID(); d.Hex != hex.EncodeToString(sum[:]) {
		t.Errorf("DiffID: got %s", d)
	}
	dirs, err := s.LayerDirs(ctxT(t), got)
	must(t, err)
	b, err := os.ReadFile(filepath.Join(dirs[0].Path, "z"))
	must(t, err)
	if string(b) != "zstd content" {
		t.Errorf("extracted z: got %q", b)
	}
}
