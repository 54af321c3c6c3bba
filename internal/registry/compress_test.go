package registry

import (
	"context"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/strata-build/strata/internal/layer"
)

// layerTypesOf returns the media types of img's layers.
func layerTypesOf(t *testing.T, img v1.Image) []types.MediaType {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []types.MediaType
	for _, l := range m.Layers {
		out = append(out, l.MediaType)
	}
	return out
}

func TestCompressorImage(t *testing.T) {
	ctx := context.Background()
	plain := plainImage(t, 7, 2, types.OCIManifestSchema1)
	gz, err := NewCompressor(t.TempDir()).Image(ctx, plain, CompressOptions{Compression: layer.Gzip})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		img     v1.Image
		opts    CompressOptions
		want    types.MediaType
		sameIDs bool // config (image ID, diff_ids) unchanged
	}{
		{"plain-to-zstd", plain, CompressOptions{Compression: layer.Zstd}, types.OCILayerZStd, true},
		{"gzip-kept-without-force", gz, CompressOptions{Compression: layer.Zstd}, types.OCILayer, true},
		{"gzip-to-zstd-forced", gz, CompressOptions{Compression: layer.Zstd, Force: true}, types.OCILayerZStd, true},
		{"gzip-to-plain-forced", gz, CompressOptions{Compression: layer.Uncompressed, Force: true}, types.OCIUncompressedLayer, true},
		{"plain-to-estargz", plain, CompressOptions{Compression: Estargz}, types.OCILayer, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewCompressor(t.TempDir()).Image(ctx, tt.img, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if lt := layerTypesOf(t, got); slices.ContainsFunc(lt, func(m types.MediaType) bool { return m != tt.want }) {
				t.Errorf("layer media types %v, want all %s", lt, tt.want)
			}
			if tt.want == types.OCILayer {
				if err := validate.Image(got); err != nil {
					t.Errorf("validate.Image: %v", err)
				}
			} else {
				if err := validate.Image(got, validate.Fast); err != nil {
					t.Errorf("validate.Image(Fast): %v", err)
				}
				checkLayers(t, got)
			}
			if same := configName(t, got) == configName(t, tt.img); same != tt.sameIDs {
				t.Errorf("image ID %s, original %s: same = %v, want %v", configName(t, got), configName(t, tt.img), same, tt.sameIDs)
			}
		})
	}
}

// TestCompressorOnce checks that a layer compressed for an early upload is
// the file the image compression then uses, not a second compression.
func TestCompressorOnce(t *testing.T) {
	ctx := context.Background()
	img := plainImage(t, 3, 1, types.OCIManifestSchema1)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	c := NewCompressor(t.TempDir())
	opts := CompressOptions{Compression: layer.Zstd, Level: 5}
	early, err := c.Layer(ctx, ls[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Image(ctx, img, opts)
	if err != nil {
		t.Fatal(err)
	}
	ol, err := out.Layers()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := ol[0].Digest()
	want, _ := early.Digest()
	if got != want {
		t.Errorf("the image's layer is %s, the early one %s", got, want)
	}
	entries, err := readDir(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the compressor's directory holds %v, want one compressed file", entries)
	}
}
