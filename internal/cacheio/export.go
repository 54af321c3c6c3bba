package cacheio

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/strata-build/strata/internal/iox"
	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/store"
)

// refNameAnnotation names a manifest in an OCI layout's index.json.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Options configure Export and Open.
type Options struct {
	// Registry configures the registry client (type=registry).
	Registry registry.Options
	// Version is strata's version: Export writes it, with the platform,
	// into the cache, and Open refuses a cache of another version or
	// platform.
	Version string
}

// builderID names the strata that writes or reads a cache.
func builderID(version string) string {
	if version == "" {
		version = "unknown"
	}
	return "strata " + version + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// ExportStats tell what Export wrote.
type ExportStats struct {
	// Records is the number of cache records exported.
	Records int
	// Layers is the number of layer blobs in the cache.
	Layers int
	// Mounts is the number of cache mounts in the cache (cache-mounts=true).
	Mounts int
	// Bytes is the size of those blobs, as written (compressed).
	Bytes int64
	// Digest is the cache manifest's digest.
	Digest v1.Hash
}

// Export writes the cache records keys name (keys without a record are
// skipped), with the blobs they need, to spec's destination.
func Export(ctx context.Context, st *store.Store, keys []string, spec Spec, opts Options) (ExportStats, error) {
	tmp, err := st.TempDir("cache-export-")
	if err != nil {
		return ExportStats{}, fmt.Errorf("exporting the cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	img, stats, err := cacheImageOf(ctx, st, keys, tmp, builderID(opts.Version), spec.CacheMounts)
	if err != nil {
		return ExportStats{}, fmt.Errorf("exporting the cache: %w", err)
	}
	switch spec.Type {
	case "registry":
		ro := opts.Registry
		if ro.TempDir == "" {
			ro.TempDir = tmp
		}
		stats.Digest, err = registry.Push(ctx, img, spec.Ref, ro)
	case "local":
		stats.Digest, err = writeLayout(img, spec)
	default:
		err = fmt.Errorf("unknown cache type %q", spec.Type)
	}
	if err != nil {
		return ExportStats{}, fmt.Errorf("exporting the cache to %s: %w", spec, err)
	}
	return stats, nil
}

// cacheImageOf makes the cache image of keys, and of the cache mounts when
// mounts is set, compressing plain blobs into files under tmp.
func cacheImageOf(ctx context.Context, st *store.Store, keys []string, tmp, builder string, mounts bool) (v1.Image, ExportStats, error) {
	cfg := config{Builder: builder}
	var order []v1.Hash
	seenKey, seenBlob := map[string]bool{}, map[v1.Hash]bool{}
	for _, k := range keys {
		if seenKey[k] {
			continue
		}
		seenKey[k] = true
		rec, ok, err := st.GetCache(k)
		if err != nil {
			return nil, ExportStats{}, err
		}
		if !ok {
			continue
		}
		cfg.Records = append(cfg.Records, rec)
		for _, b := range rec.Blobs {
			if !seenBlob[b] {
				seenBlob[b] = true
				order = append(order, b)
			}
		}
	}
	layers := make([]*fileLayer, len(order))
	plain := make([]bool, len(order))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i, b := range order {
		g.Go(func() error {
			l, p, err := exportBlob(gctx, st, b, filepath.Join(tmp, fmt.Sprintf("layer-%d", i)))
			layers[i], plain[i] = l, p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, ExportStats{}, err
	}
	stats := ExportStats{Records: len(cfg.Records), Layers: len(layers)}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	byDigest := map[v1.Hash]*fileLayer{}
	for i, l := range layers {
		cfg.Blobs = append(cfg.Blobs, blobEntry{Digest: order[i], Plain: plain[i]})
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mediaType, Size: l.size, Digest: l.digest})
		byDigest[l.digest] = l
		stats.Bytes += l.size
	}
	if mounts {
		entries, mls, err := exportMounts(ctx, st, tmp)
		if err != nil {
			return nil, ExportStats{}, err
		}
		cfg.Mounts = entries
		stats.Mounts = len(entries)
		for _, l := range mls {
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mediaType, Size: l.size, Digest: l.digest})
			byDigest[l.digest] = l
			stats.Bytes += l.size
		}
	}
	if cfg.Records == nil {
		cfg.Records = []store.CacheRecord{}
	}
	if cfg.Blobs == nil {
		cfg.Blobs = []blobEntry{}
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, ExportStats{}, err
	}
	m.Config = v1.Descriptor{MediaType: ConfigMediaType, Size: int64(len(rawCfg)), Digest: digestOf(rawCfg)}
	if m.Layers == nil {
		m.Layers = []v1.Descriptor{}
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, ExportStats{}, err
	}
	img, err := partial.CompressedToImage(&cacheImage{manifest: rawManifest, config: rawCfg, layers: byDigest})
	return img, stats, err
}

// exportBlob returns blob b as a layer: the gzip of it (written to path)
// when the store holds it as a plain tar, else the blob itself.
func exportBlob(ctx context.Context, st *store.Store, b v1.Hash, path string) (*fileLayer, bool, error) {
	rc, err := st.OpenBlob(b)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	alg, r, err := layer.Detect(rc)
	if err != nil {
		return nil, false, fmt.Errorf("reading blob %s: %w", b, err)
	}
	if alg != string(layer.Uncompressed) {
		size, err := st.BlobSize(b)
		if err != nil {
			return nil, false, err
		}
		mt := types.OCILayer
		if alg == string(layer.Zstd) {
			mt = types.OCILayerZStd
		}
		return &fileLayer{open: func() (io.ReadCloser, error) { return st.OpenBlob(b) }, digest: b, size: size, mediaType: mt}, false, nil
	}
	l, err := gzipFile(path, func(w io.Writer) error {
		if _, err := io.Copy(w, iox.ContextReader{Ctx: ctx, R: r}); err != nil {
			return fmt.Errorf("compressing blob %s: %w", b, err)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return l, true, nil
}

// gzipFile writes the gzip of what write writes to the file at path and
// returns it as a layer, its digest and size counted as it is written.
func gzipFile(path string, write func(io.Writer) error) (*fileLayer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &iox.CountWriter{W: io.MultiWriter(f, h)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	zw, err := layer.Compress(bw, layer.Gzip, 0)
	if err != nil {
		return nil, err
	}
	if err := write(zw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &fileLayer{
		open:      func() (io.ReadCloser, error) { return os.Open(path) },
		digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		size:      cw.N,
		mediaType: types.OCILayer,
	}, nil
}

// writeLayout writes img into the OCI layout at spec.Dir under spec.Tag,
// replacing the manifest that tag named.
func writeLayout(img v1.Image, spec Spec) (v1.Hash, error) {
	p, err := layout.FromPath(spec.Dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return v1.Hash{}, err
		}
		if p, err = layout.Write(spec.Dir, empty.Index); err != nil {
			return v1.Hash{}, err
		}
	}
	err = p.ReplaceImage(img, match.Annotation(refNameAnnotation, spec.Tag),
		layout.WithAnnotations(map[string]string{refNameAnnotation: spec.Tag}))
	if err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}
