package cacheio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/strata-build/strata/internal/iox"
	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/store"
)

// ErrOtherBuilder is returned by Open for a cache that another strata
// version or platform wrote: its keys are not trusted here.
var ErrOtherBuilder = errors.New("cacheio: not trusted")

// Importer is an exported cache opened for a build: the builder's
// CacheSource. It is safe for concurrent use.
type Importer struct {
	st      *store.Store
	spec    Spec
	img     v1.Image
	records map[string]store.CacheRecord
	layers  map[v1.Hash]layerRef // by store blob digest
	mounts  []mountEntry         // cache mounts, restored by RestoreMounts

	mu      sync.Mutex
	fetches map[v1.Hash]*fetch // blob downloads, started or done
	stats   ImportStats
}

// layerRef is where a store blob is in the cache image.
type layerRef struct {
	desc  v1.Descriptor
	plain bool
}

// fetch is one blob download shared by the records that need it.
type fetch struct {
	done chan struct{}
	err  error
}

// ImportStats tell what an Importer fetched.
type ImportStats struct {
	// Records is the number of records copied into the store.
	Records int
	// Layers is the number of blobs downloaded.
	Layers int
	// Bytes is the number of bytes downloaded (compressed).
	Bytes int64
}

// Open reads the manifest and the config of the cache spec names. No layer
// is downloaded until Fetch needs it.
func Open(ctx context.Context, st *store.Store, spec Spec, opts Options) (*Importer, error) {
	var img v1.Image
	var err error
	switch spec.Type {
	case "registry":
		img, _, err = registry.Pull(ctx, spec.Ref, opts.Registry)
	case "local":
		img, err = readLayout(spec)
	default:
		err = fmt.Errorf("unknown cache type %q", spec.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("importing the cache from %s: %w", spec, err)
	}
	im, err := newImporter(st, spec, img, builderID(opts.Version))
	if err != nil {
		return nil, fmt.Errorf("importing the cache from %s: %w", spec, err)
	}
	return im, nil
}

func newImporter(st *store.Store, spec Spec, img v1.Image, builder string) (*Importer, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if m.Config.MediaType != ConfigMediaType {
		return nil, fmt.Errorf("it is not a strata cache: its config is %s, want %s", m.Config.MediaType, ConfigMediaType)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	var cfg config
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("reading the cache config: %w", err)
	}
	if cfg.Builder != builder {
		from := cfg.Builder
		if from == "" {
			from = "a strata that did not say its version"
		}
		return nil, fmt.Errorf("%w: it was written by %s, this is %s", ErrOtherBuilder, from, builder)
	}
	if len(cfg.Blobs)+len(cfg.Mounts) != len(m.Layers) {
		return nil, fmt.Errorf("the cache config names %d blobs and %d cache mounts for %d layers", len(cfg.Blobs), len(cfg.Mounts), len(m.Layers))
	}
	im := &Importer{st: st, spec: spec, img: img, records: map[string]store.CacheRecord{},
		layers: map[v1.Hash]layerRef{}, fetches: map[v1.Hash]*fetch{}, mounts: cfg.Mounts}
	for i, b := range cfg.Blobs {
		im.layers[b.Digest] = layerRef{desc: m.Layers[i], plain: b.Plain}
	}
	for _, r := range cfg.Records {
		im.records[r.Key] = r
	}
	return im, nil
}

// readLayout opens the cache spec.Tag names in the layout at spec.Dir (or its
// only manifest).
func readLayout(spec Spec) (v1.Image, error) {
	p, err := layout.FromPath(spec.Dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Annotations[refNameAnnotation] == spec.Tag || len(im.Manifests) == 1 {
			return p.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no cache tagged %q in %s", spec.Tag, spec.Dir)
}

// Spec returns where the cache comes from.
func (im *Importer) Spec() Spec { return im.spec }

// Len returns the number of records the cache holds.
func (im *Importer) Len() int { return len(im.records) }

// Stats returns what was fetched so far.
func (im *Importer) Stats() ImportStats {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.stats
}

// Fetch copies the record key, with the blobs it needs that the store lacks,
// into the store, and reports whether the cache had it.
func (im *Importer) Fetch(ctx context.Context, key string) (bool, error) {
	rec, ok := im.records[key]
	if !ok {
		return false, nil
	}
	for _, b := range rec.Blobs {
		if im.st.HasBlob(b) {
			continue
		}
		if err := im.fetchBlob(ctx, b); err != nil {
			return false, fmt.Errorf("importing cache record %.12s from %s: %w", key, im.spec, err)
		}
	}
	if err := im.st.PutCache(rec); err != nil {
		return false, err
	}
	im.mu.Lock()
	im.stats.Records++
	im.mu.Unlock()
	return true, nil
}

// fetchBlob downloads blob b into the store once, however many callers
// want it at the same time.
func (im *Importer) fetchBlob(ctx context.Context, b v1.Hash) error {
	im.mu.Lock()
	f, started := im.fetches[b]
	if !started {
		f = &fetch{done: make(chan struct{})}
		im.fetches[b] = f
	}
	im.mu.Unlock()
	if started {
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.err = im.download(ctx, b)
	close(f.done)
	if f.err != nil {
		im.mu.Lock()
		delete(im.fetches, b) // a later step may try again
		im.mu.Unlock()
	}
	return f.err
}

// download writes blob b into the store from its layer in the cache.
func (im *Importer) download(ctx context.Context, b v1.Hash) error {
	ref, ok := im.layers[b]
	if !ok {
		return fmt.Errorf("blob %s is not in the cache", b)
	}
	l, err := im.img.LayerByDigest(ref.desc.Digest)
	if err != nil {
		return fmt.Errorf("blob %s: %w", b, err)
	}
	rc, err := l.Compressed() // checked against the layer's digest as it is read
	if err != nil {
		return fmt.Errorf("downloading %s: %w", ref.desc.Digest, err)
	}
	defer rc.Close()
	cr := &iox.CountReader{R: iox.ContextReader{Ctx: ctx, R: rc}}
	var r io.Reader = cr
	if ref.plain {
		dr, err := layer.Decompress(cr)
		if err != nil {
			return fmt.Errorf("downloading %s: %w", ref.desc.Digest, err)
		}
		defer dr.Close()
		r = dr
	}
	if _, _, err := im.st.WriteBlob(r, &b); err != nil {
		return fmt.Errorf("downloading %s: %w", ref.desc.Digest, err)
	}
	im.mu.Lock()
	im.stats.Layers++
	im.stats.Bytes += cr.N
	im.mu.Unlock()
	return nil
}
