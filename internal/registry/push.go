package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/strata-build/strata/internal/iox"
	"github.com/strata-build/strata/internal/layer"
)

// Push writes img to ref and returns the digest of the manifest it pushed.
// Layers stored as plain tars are compressed (opts.Compression) into files in
// opts.TempDir first, and the manifest is rewritten to name the compressed
// blobs; the config, and so the image ID and diff_ids, stay as they are.
// Blobs the registry already has are not uploaded again. Every blob is
// uploaded before the manifest, so a push that fails never leaves ref
// pointing at a partial image.
func Push(ctx context.Context, img v1.Image, ref string, opts Options) (v1.Hash, error) {
	r, err := opts.parseRef(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	dir, err := os.MkdirTemp(opts.TempDir, "strata-push-")
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing to %s: %w", r, err)
	}
	defer os.RemoveAll(dir)
	out, err := compressImage(ctx, img, dir, opts)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing to %s: %w", r, err)
	}
	ro := opts.remoteOptions(ctx)
	if opts.LayerExists != nil {
		if err := reportExisting(r, out, ro, opts.LayerExists); err != nil {
			return v1.Hash{}, explain("pushing to", r, err)
		}
	}
	if opts.Progress != nil {
		ro = append(ro, remote.WithProgress(opts.Progress))
	}
	if err := remote.Write(r, out, ro...); err != nil {
		return v1.Hash{}, explain("pushing to", r, err)
	}
	dg, err := out.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing to %s: %w", r, err)
	}
	return dg, nil
}

// reportExisting calls exists with the index of each layer of img that the
// repository of r already has.
func reportExisting(r name.Reference, img v1.Image, ro []remote.Option, exists func(int)) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading layers: %w", err)
	}
	for i, l := range layers {
		dg, err := l.Digest()
		if err != nil {
			return fmt.Errorf("reading layer digest: %w", err)
		}
		rl, err := remote.Layer(r.Context().Digest(dg.String()), ro...)
		if err != nil {
			return err
		}
		ok, err := partial.Exists(rl)
		if err != nil {
			return err
		}
		if ok {
			exists(i)
		}
	}
	return nil
}

// uncompressedTypes are the layer media types Push compresses.
var uncompressedTypes = map[types.MediaType]bool{
	types.OCIUncompressedLayer:    true,
	types.DockerUncompressedLayer: true,
}

// compressImage returns img with its plain-tar layers compressed into files in
// dir, or img itself when it has none.
func compressImage(ctx context.Context, img v1.Image, dir string, opts Options) (v1.Image, error) {
	alg := opts.Compression
	if alg == "" {
		alg = layer.Gzip
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	var todo []v1.Layer
	seen := map[v1.Hash]bool{}
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, fmt.Errorf("reading layer media type: %w", err)
		}
		dg, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("reading layer digest: %w", err)
		}
		if uncompressedTypes[mt] && !seen[dg] {
			seen[dg] = true
			todo = append(todo, l)
		}
	}
	if len(todo) == 0 || alg == layer.Uncompressed {
		return img, nil
	}

	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading manifest media type: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	m = m.DeepCopy()
	oci := mt != types.DockerManifestSchema2
	if !oci && alg == layer.Zstd {
		// Docker's manifest schema has no zstd layers: switch to OCI's.
		oci = true
		mt = types.OCIManifestSchema1
		m.MediaType = mt
		m.Config.MediaType = types.OCIConfigJSON
		for i := range m.Layers {
			if m.Layers[i].MediaType == types.DockerLayer {
				m.Layers[i].MediaType = types.OCILayer
			}
		}
	}
	layerType := map[bool]map[layer.Compression]types.MediaType{
		true:  {layer.Gzip: types.OCILayer, layer.Zstd: types.OCILayerZStd},
		false: {layer.Gzip: types.DockerLayer},
	}[oci][alg]
	if layerType == "" {
		return nil, fmt.Errorf("unknown compression %q", alg)
	}

	var mu sync.Mutex
	done := map[v1.Hash]*fileLayer{} // by the plain tar's digest
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i, l := range todo {
		g.Go(func() error {
			fl, err := compressLayer(gctx, l, dir, fmt.Sprintf("layer-%d", i), alg, opts.CompressionLevel, layerType)
			if err != nil {
				return err
			}
			dg, _ := l.Digest()
			mu.Lock()
			done[dg] = fl
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	byDigest := map[v1.Hash]*fileLayer{}
	for i, d := range m.Layers {
		if fl, ok := done[d.Digest]; ok {
			m.Layers[i].Digest = fl.digest
			m.Layers[i].Size = fl.size
			m.Layers[i].MediaType = fl.mediaType
			byDigest[fl.digest] = fl
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("writing manifest: %w", err)
	}
	return partial.CompressedToImage(&compressedImage{orig: img, manifest: raw, mediaType: mt, layers: byDigest})
}

// compressLayer compresses l's tar into a file in dir, checking its diff_id
// on the way.
func compressLayer(ctx context.Context, l v1.Layer, dir, base string, alg layer.Compression, level int, mt types.MediaType) (*fileLayer, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, fmt.Errorf("reading diff_id: %w", err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", diffID, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, base+"-*")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zh, th := sha256.New(), sha256.New()
	cw := &iox.CountWriter{W: io.MultiWriter(f, zh)}
	zw, err := layer.Compress(cw, alg, level)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.MultiWriter(zw, th), iox.ContextReader{Ctx: ctx, R: rc}); err != nil {
		return nil, fmt.Errorf("compressing layer %s: %w", diffID, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing layer %s: %w", diffID, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("compressing layer %s: %w", diffID, err)
	}
	if got := "sha256:" + hex.EncodeToString(th.Sum(nil)); got != diffID.String() {
		return nil, fmt.Errorf("compressing layer %s: its content has digest %s", diffID, got)
	}
	return &fileLayer{
		path:      f.Name(),
		digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(zh.Sum(nil))},
		size:      cw.N,
		mediaType: mt,
		diffID:    diffID,
	}, nil
}

// compressedImage is an image whose plain-tar layers were replaced by
// compressed files.
type compressedImage struct {
	orig      v1.Image
	manifest  []byte
	mediaType types.MediaType
	layers    map[v1.Hash]*fileLayer // by compressed digest
}

var _ partial.CompressedImageCore = (*compressedImage)(nil)

// RawConfigFile implements partial.CompressedImageCore.
func (i *compressedImage) RawConfigFile() ([]byte, error) { return i.orig.RawConfigFile() }

// MediaType implements partial.CompressedImageCore.
func (i *compressedImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }

// RawManifest implements partial.CompressedImageCore.
func (i *compressedImage) RawManifest() ([]byte, error) { return i.manifest, nil }

// LayerByDigest implements partial.CompressedImageCore.
func (i *compressedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if fl, ok := i.layers[h]; ok {
		return fl, nil
	}
	return i.orig.LayerByDigest(h)
}

// fileLayer is a compressed layer in a file.
type fileLayer struct {
	path      string
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
	diffID    v1.Hash
}

var _ partial.CompressedLayer = (*fileLayer)(nil)

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }
