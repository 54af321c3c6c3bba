package output

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// checkTarOf returns a tar of the headers (regular files with body "x").
func checkTarOf(t *testing.T, hdrs ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h.Mode = 0o644
		if h.Typeflag == tar.TypeReg {
			h.Size = 1
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, "x")
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadArchiveRefusesUnsafeLayers checks that an archive is refused by
// ReadArchive, before anything is stored, when any layer of any image
// holds an entry that could not be extracted safely, whether the layer is
// a plain tar or gzip, first or last.
func TestReadArchiveRefusesUnsafeLayers(t *testing.T) {
	ctx := context.Background()
	good := checkTarOf(t, tar.Header{Name: "etc/", Typeflag: tar.TypeDir}, tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg})
	bad := map[string][]byte{
		"dot-dot":         checkTarOf(t, tar.Header{Name: "../x", Typeflag: tar.TypeReg}),
		"through symlink": checkTarOf(t, tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, tar.Header{Name: "d/passwd", Typeflag: tar.TypeReg}),
		"hard link out":   checkTarOf(t, tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}),
	}
	plain := func(b []byte) v1.Layer { return static.NewLayer(b, types.OCIUncompressedLayer) }
	gz := func(b []byte) v1.Layer {
		l, err := tarball.LayerFromReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for badName, badTar := range bad {
		for _, tc := range []struct {
			name   string
			layers func(bad []byte) []v1.Layer
			write  func(context.Context, io.Writer, []NamedImage) error
		}{
			{"docker, plain, last layer", func(b []byte) []v1.Layer { return []v1.Layer{plain(good), plain(b)} }, WriteDockerArchive},
			{"docker, gzip, first layer", func(b []byte) []v1.Layer { return []v1.Layer{gz(b), gz(good)} }, WriteDockerArchive},
			{"oci, gzip, last layer", func(b []byte) []v1.Layer { return []v1.Layer{gz(good), gz(b)} }, WriteOCIArchive},
		} {
			t.Run(badName+"/"+tc.name, func(t *testing.T) {
				img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
				img, err := mutate.AppendLayers(img, tc.layers(badTar)...)
				if err != nil {
					t.Fatal(err)
				}
				fine, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), plain(good))
				if err != nil {
					t.Fatal(err)
				}
				p := writeFile(t, func(w io.Writer) error {
					return tc.write(ctx, w, []NamedImage{{Image: fine, Names: []string{"fine:1"}}, {Image: img, Names: []string{"bad:1"}}})
				})
				imgs, err := ReadArchive(ctx, p)
				if err == nil {
					t.Fatalf("ReadArchive accepted the archive (%d images)", len(imgs))
				}
				if got, want := err.Error(), "cannot be loaded, nothing was stored"; !strings.Contains(got, want) {
					t.Errorf("ReadArchive: got %q, want it to say %q", got, want)
				}
			})
		}
	}
	t.Run("good archive", func(t *testing.T) {
		img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), plain(good), gz(good))
		if err != nil {
			t.Fatal(err)
		}
		p := writeFile(t, func(w io.Writer) error {
			return WriteDockerArchive(ctx, w, []NamedImage{{Image: img, Names: []string{"good:1"}}})
		})
		if _, err := ReadArchive(ctx, p); err != nil {
			t.Fatalf("ReadArchive: %v", err)
		}
	})
}
