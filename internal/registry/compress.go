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

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/strata-build/strata/internal/iox"
	"github.com/strata-build/strata/internal/layer"
)

// CompressOptions says how Compressor.Image compresses an image's layers.
type CompressOptions struct {
	// Compression is the algorithm: layer.Gzip (when empty), layer.Zstd,
	// Estargz or layer.Uncompressed.
	Compression layer.Compression
	// Level is the compressor's level; 0 is the algorithm's default.
	Level int
	// Force recompresses layers that are already compressed another way (a
	// pulled base image's gzip layers in a zstd image); without it only
	// plain-tar layers are compressed, as buildx does.
	Force bool
}

func (o CompressOptions) alg() layer.Compression {
	if o.Compression == "" {
		return layer.Gzip
	}
	return o.Compression
}

// Compressor compresses layers into files in one directory, each layer once
// for each algorithm and level: the pushes and outputs of one build share
// one, so a layer compressed for an early upload is not compressed again
// for the final push. Safe for concurrent use.
type Compressor struct {
	dir  string
	mu   sync.Mutex
	done map[compressKey]*compressCall
}

type compressKey struct {
	diffID v1.Hash
	alg    layer.Compression
	level  int
}

// compressCall is one layer's compression, shared by every caller that asks
// for it; done is closed when fl or err is set.
type compressCall struct {
	done chan struct{}
	fl   *fileLayer
	err  error
}

// NewCompressor returns a Compressor writing its files into dir, which the
// caller removes when done.
func NewCompressor(dir string) *Compressor {
	return &Compressor{dir: dir, done: map[compressKey]*compressCall{}}
}

// compressionOf returns how a layer media type is compressed, or "" for a
// type it does not know (a foreign layer), which is never recompressed.
func compressionOf(mt types.MediaType) layer.Compression {
	switch mt {
	case types.OCIUncompressedLayer, types.DockerUncompressedLayer:
		return layer.Uncompressed
	case types.OCILayer, types.DockerLayer:
		return layer.Gzip
	case types.OCILayerZStd:
		return layer.Zstd
	}
	return ""
}

// needs reports whether a layer of media type mt is rewritten for opts.
func (o CompressOptions) needs(mt types.MediaType) bool {
	have := compressionOf(mt)
	switch {
	case have == "" || have == o.alg():
		return false
	case have == layer.Uncompressed:
		return true
	}
	return o.Force
}

// layerType returns the media type of a layer compressed with alg in an
// OCI (or docker) manifest, or "" when the manifest type has none.
func layerType(oci bool, alg layer.Compression) types.MediaType {
	return map[bool]map[layer.Compression]types.MediaType{
		true:  {layer.Gzip: types.OCILayer, layer.Zstd: types.OCILayerZStd, layer.Uncompressed: types.OCIUncompressedLayer, Estargz: types.OCILayer},
		false: {layer.Gzip: types.DockerLayer, layer.Uncompressed: types.DockerUncompressedLayer},
	}[oci][alg]
}

// Image returns img with the layers opts asks for compressed into files (the
// manifest rewritten to name them; the config, so the image ID and the
// diff_ids, unchanged), or img itself when no layer needs it. A docker
// manifest becomes an OCI one when the compression is zstd, which docker's
// schema lacks.
func (c *Compressor) Image(ctx context.Context, img v1.Image, opts CompressOptions) (v1.Image, error) {
	alg := opts.alg()
	if layerType(true, alg) == "" {
		return nil, fmt.Errorf("unknown compression %q", alg)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	todo := map[v1.Hash]v1.Layer{}
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, fmt.Errorf("reading layer media type: %w", err)
		}
		dg, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("reading layer digest: %w", err)
		}
		if opts.needs(mt) {
			todo[dg] = l
		}
	}
	if len(todo) == 0 {
		return img, nil
	}
	mt, m, err := manifestFor(img, alg)
	if err != nil {
		return nil, err
	}
	lt := layerType(mt != types.DockerManifestSchema2, alg)
	var mu sync.Mutex
	done := map[v1.Hash]*fileLayer{} // by the old digest
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for dg, l := range todo {
		g.Go(func() error {
			fl, err := c.layer(gctx, l, opts)
			if err != nil {
				return err
			}
			mu.Lock()
			done[dg] = fl.withMediaType(lt)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rewritten(img, mt, m, done)
}

// rewritten returns img with the manifest m whose layers done (by their
// old digests) replace; when a replacement has another diff_id (eStargz),
// the config's diff_ids are rewritten too.
func rewritten(img v1.Image, mt types.MediaType, m *v1.Manifest, done map[v1.Hash]*fileLayer) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	ids := append([]v1.Hash(nil), cf.RootFS.DiffIDs...)
	if len(ids) != len(m.Layers) {
		return nil, fmt.Errorf("the config has %d diff_ids for %d layers", len(ids), len(m.Layers))
	}
	byDigest := map[v1.Hash]*fileLayer{}
	newIDs := false
	for i, d := range m.Layers {
		if fl, ok := done[d.Digest]; ok {
			m.Layers[i].Digest, m.Layers[i].Size, m.Layers[i].MediaType = fl.digest, fl.size, fl.mediaType
			m.Layers[i].Annotations = fl.annotations
			byDigest[fl.digest] = fl
			newIDs = newIDs || ids[i] != fl.diffID
			ids[i] = fl.diffID
		}
	}
	ci := &compressedImage{orig: img, mediaType: mt, layers: byDigest}
	if newIDs {
		raw, err := img.RawConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		if ci.config, err = withDiffIDs(raw, ids); err != nil {
			return nil, err
		}
		h := sha256.Sum256(ci.config)
		m.Config.Digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h[:])}
		m.Config.Size = int64(len(ci.config))
	}
	if ci.manifest, err = json.Marshal(m); err != nil {
		return nil, fmt.Errorf("writing manifest: %w", err)
	}
	return partial.CompressedToImage(ci)
}

// manifestFor returns a copy of img's manifest and its media type, switched
// from docker's schema to OCI's when alg is one docker's lacks.
func manifestFor(img v1.Image, alg layer.Compression) (types.MediaType, *v1.Manifest, error) {
	mt, err := img.MediaType()
	if err != nil {
		return "", nil, fmt.Errorf("reading manifest media type: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return "", nil, fmt.Errorf("reading manifest: %w", err)
	}
	m = m.DeepCopy()
	if mt == types.DockerManifestSchema2 && layerType(false, alg) == "" {
		mt = types.OCIManifestSchema1
		m.MediaType = mt
		m.Config.MediaType = types.OCIConfigJSON
		for i := range m.Layers {
			switch m.Layers[i].MediaType {
			case types.DockerLayer:
				m.Layers[i].MediaType = types.OCILayer
			case types.DockerUncompressedLayer:
				m.Layers[i].MediaType = types.OCIUncompressedLayer
			}
		}
	}
	return mt, m, nil
}

// Layer returns l compressed as opts asks (OCI media types), compressing it
// now unless this Compressor already did or is doing it.
func (c *Compressor) Layer(ctx context.Context, l v1.Layer, opts CompressOptions) (v1.Layer, error) {
	fl, err := c.layer(ctx, l, opts)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToLayer(fl.withMediaType(layerType(true, opts.alg())))
}

// layer compresses l once per key; concurrent callers wait for the first.
func (c *Compressor) layer(ctx context.Context, l v1.Layer, opts CompressOptions) (*fileLayer, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, fmt.Errorf("reading diff_id: %w", err)
	}
	k := compressKey{diffID: diffID, alg: opts.alg(), level: opts.Level}
	c.mu.Lock()
	call, ok := c.done[k]
	if !ok {
		call = &compressCall{done: make(chan struct{})}
		c.done[k] = call
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-call.done:
			return call.fl, call.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if k.alg == Estargz {
		call.fl, call.err = estargzLayer(ctx, l, c.dir, k.level)
	} else {
		call.fl, call.err = compressLayer(ctx, l, c.dir, k.alg, k.level)
	}
	if call.err != nil {
		// A failed (or cancelled) compression is not remembered.
		c.mu.Lock()
		delete(c.done, k)
		c.mu.Unlock()
	}
	close(call.done)
	return call.fl, call.err
}

// compressLayer compresses l's tar into a file in dir, checking its diff_id
// on the way.
func compressLayer(ctx context.Context, l v1.Layer, dir string, alg layer.Compression, level int) (*fileLayer, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, fmt.Errorf("reading diff_id: %w", err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", diffID, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "layer-"+diffID.Hex[:12]+"-*")
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
		path:   f.Name(),
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(zh.Sum(nil))},
		size:   cw.N,
		diffID: diffID,
	}, nil
}

// compressedImage is an image whose plain-tar layers were replaced by
// compressed files.
type compressedImage struct {
	orig      v1.Image
	config    []byte // nil: orig's
	manifest  []byte
	mediaType types.MediaType
	layers    map[v1.Hash]*fileLayer // by compressed digest
}

var _ partial.CompressedImageCore = (*compressedImage)(nil)

// RawConfigFile implements partial.CompressedImageCore.
func (i *compressedImage) RawConfigFile() ([]byte, error) {
	if i.config != nil {
		return i.config, nil
	}
	return i.orig.RawConfigFile()
}

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
	// annotations of the layer's descriptor (an eStargz layer's TOC digest).
	annotations map[string]string
}

var _ partial.CompressedLayer = (*fileLayer)(nil)

// withMediaType returns a copy of l that names its media type mt (one file
// is a gzip layer of a docker manifest and of an OCI one).
func (l *fileLayer) withMediaType(mt types.MediaType) *fileLayer {
	c := *l
	c.mediaType = mt
	return &c
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }
