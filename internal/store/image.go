package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// WriteImage stores img and points each of names (normalised first) at it.
// Layer blobs the store lacks are copied from layer.Compressed() as they are,
// with their digests checked; then the config and the manifest are written.
// Indexes (manifest lists) are refused: the caller picks a platform first.
// With no names the image is stored unnamed, and GC collects it unless a
// cache record holds its blobs.
func (s *Store) WriteImage(ctx context.Context, img v1.Image, names ...string) (Record, error) {
	return s.WriteImageWith(ctx, img, WriteImageOptions{Names: names})
}

// WriteImageOptions are the choices of WriteImageWith.
type WriteImageOptions struct {
	// Names are the names to point at the image.
	Names []string
	// Extract extracts every layer whose blob the store lacks into its
	// layer dir while the blob is written, from the same read of
	// layer.Compressed() (as docker pull does), a few layers at once, so
	// that the first build or run on the image finds its layers ready.
	// Otherwise layers are extracted when first used (LayerDirs).
	Extract bool
}

// WriteImageWith stores img as WriteImage does, with the choices of opts.
func (s *Store) WriteImageWith(ctx context.Context, img v1.Image, opts WriteImageOptions) (Record, error) {
	names := opts.Names
	mt, err := img.MediaType()
	if err != nil {
		return Record{}, fmt.Errorf("reading image media type: %w", err)
	}
	if !mt.IsImage() {
		return Record{}, fmt.Errorf("cannot store %s: only image manifests are stored, pick a platform first", mt)
	}
	full := make([]string, 0, len(names))
	for _, n := range names {
		f, err := Normalize(n)
		if err != nil {
			return Record{}, err
		}
		full = append(full, f)
	}
	unlock, err := s.lockShared()
	if err != nil {
		return Record{}, err
	}
	defer unlock()

	digest, err := img.Digest()
	if err != nil {
		return Record{}, fmt.Errorf("computing manifest digest: %w", err)
	}
	for _, f := range full {
		if i := strings.IndexByte(f, '@'); i >= 0 && f[i+1:] != digest.String() {
			return Record{}, fmt.Errorf("cannot name image %s %s: the digest does not match", digest, FamiliarName(f))
		}
	}
	m, err := img.Manifest()
	if err != nil {
		return Record{}, fmt.Errorf("reading manifest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return Record{}, fmt.Errorf("reading layers: %w", err)
	}
	if len(layers) != len(m.Layers) {
		return Record{}, fmt.Errorf("image has %d layers but its manifest lists %d", len(layers), len(m.Layers))
	}
	var targets []layerTarget
	if opts.Extract {
		if targets, err = layerTargets(img, len(m.Layers)); err != nil {
			return Record{}, err
		}
	}
	sizes, err := s.writeLayers(ctx, layers, m.Layers, targets)
	if err != nil {
		return Record{}, err
	}

	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return Record{}, fmt.Errorf("reading config: %w", err)
	}
	if _, _, err := s.writeBlobBytes(rawCfg, &m.Config.Digest); err != nil {
		return Record{}, fmt.Errorf("writing config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return Record{}, fmt.Errorf("reading config: %w", err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return Record{}, fmt.Errorf("reading manifest: %w", err)
	}
	if _, _, err := s.writeBlobBytes(rawManifest, &digest); err != nil {
		return Record{}, fmt.Errorf("writing manifest: %w", err)
	}

	rec := Record{Manifest: digest, ID: m.Config.Digest, Created: cfg.Created.Time}
	for _, n := range sizes {
		rec.Size += n
	}
	desc := v1.Descriptor{MediaType: mt, Digest: digest, Size: int64(len(rawManifest))}
	if rec.Names, err = s.nameImage(desc, rec, full); err != nil {
		return Record{}, fmt.Errorf("naming image %s: %w", digest, err)
	}
	return rec, nil
}

// nameImage points each of the normalised names full at the manifest desc
// of rec, or with no names adds it unnamed, and returns every name the
// image has.
func (s *Store) nameImage(desc v1.Descriptor, rec Record, full []string) ([]string, error) {
	desc.Annotations = map[string]string{
		annotID:      rec.ID.String(),
		annotSize:    strconv.FormatInt(rec.Size, 10),
		annotCreated: rec.Created.UTC().Format(time.RFC3339Nano),
	}
	var names []string
	err := s.updateIndex(func(idx *v1.IndexManifest) error {
		if len(full) == 0 {
			// A dangling image, as docker keeps an untagged build: listed as
			// <none>, found by ID, kept until removed.
			for _, d := range idx.Manifests {
				if d.Digest == desc.Digest {
					names = namesOf(idx, desc.Digest)
					return nil
				}
			}
			idx.Manifests = append(idx.Manifests, desc)
			return nil
		}
		for _, f := range full {
			setName(idx, desc, f)
		}
		names = namesOf(idx, desc.Digest)
		return nil
	})
	return names, err
}

// layerTargets returns the layer dirs of img's layers, from its config's
// diff_ids (one per layer).
func layerTargets(img v1.Image, layers int) ([]layerTarget, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	if err := checkDiffIDs(layers, cfg); err != nil {
		return nil, err
	}
	chains := ChainIDs(cfg.RootFS.DiffIDs)
	targets := make([]layerTarget, layers)
	for i, d := range cfg.RootFS.DiffIDs {
		targets[i] = layerTarget{chainID: chains[i], diffID: d}
	}
	return targets, nil
}

// writeLayers stores the layer blobs the store lacks, a few at a time, and
// returns the layers' content sizes, as docker shows them. With targets
// (one per layer), each layer whose blob is written is extracted into its
// layer dir on the way, unless the store has that dir.
func (s *Store) writeLayers(ctx context.Context, layers []v1.Layer, descs []v1.Descriptor, targets []layerTarget) ([]int64, error) {
	sizes := make([]int64, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, l := range layers {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			var to *layerTarget
			if targets != nil {
				to = &targets[i]
			}
			if !s.HasBlob(descs[i].Digest) {
				if err := s.writeLayerTo(gctx, l, descs[i], to); err != nil {
					return err
				}
			}
			n, err := s.layerContentSize(descs[i])
			sizes[i] = n
			return err
		})
	}
	return sizes, g.Wait()
}

func namesOf(idx *v1.IndexManifest, digest v1.Hash) []string {
	var names []string
	for _, d := range idx.Manifests {
		if n := d.Annotations[annotRefName]; n != "" && d.Digest == digest {
			names = append(names, n)
		}
	}
	return names
}

// writeLayerTo writes the blob of l, the layer that desc describes, and
// extracts it into the layer dir to too unless to is nil or the store has
// that dir.
func (s *Store) writeLayerTo(ctx context.Context, l v1.Layer, desc v1.Descriptor, to *layerTarget) error {
	if to != nil {
		if _, ok := s.HasLayerDir(to.chainID); !ok {
			return s.writeLayerExtracting(ctx, l, desc, *to)
		}
	}
	return s.writeLayer(l, desc.Digest)
}

func (s *Store) writeLayer(l v1.Layer, want v1.Hash) error {
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", want, err)
	}
	defer rc.Close()
	if _, _, err := s.WriteBlob(rc, &want); err != nil {
		return fmt.Errorf("writing layer %s: %w", want, err)
	}
	return nil
}

// layerDiffSize returns the uncompressed size of a stored layer blob, from
// the sizes/ cache when it is there, else by reading the blob once.
func (s *Store) layerDiffSize(desc v1.Descriptor) (int64, error) {
	cache := s.path("sizes", desc.Digest.Hex)
	if b, err := os.ReadFile(cache); err == nil {
		if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return n, nil
		}
	}
	var n int64
	switch desc.MediaType {
	case types.OCIUncompressedLayer, types.DockerUncompressedLayer, types.OCIUncompressedRestrictedLayer:
		size, err := s.BlobSize(desc.Digest)
		if err != nil {
			return 0, err
		}
		n = size
	default:
		l, err := partial.CompressedToLayer(&storeLayer{s: s, desc: desc})
		if err != nil {
			return 0, err
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, fmt.Errorf("reading layer %s: %w", desc.Digest, err)
		}
		n, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, fmt.Errorf("reading layer %s: %w", desc.Digest, err)
		}
	}
	s.cacheSize("sizes", "size-*", desc.Digest, n)
	return n, nil
}

type imageMeta struct {
	id      v1.Hash
	created time.Time
	size    int64
}

// imageMeta reads the record data of a manifest from its blobs.
func (s *Store) imageMeta(digest v1.Hash) (imageMeta, error) {
	img := &storeImage{s: s, desc: v1.Descriptor{Digest: digest}}
	m, err := img.Manifest()
	if err != nil {
		return imageMeta{}, err
	}
	cfg, err := partial.ConfigFile(img)
	if err != nil {
		return imageMeta{}, err
	}
	meta := imageMeta{id: m.Config.Digest, created: cfg.Created.Time}
	for _, l := range m.Layers {
		n, err := s.layerContentSize(l)
		if err != nil {
			return imageMeta{}, err
		}
		meta.size += n
	}
	return meta, nil
}

// Image returns the image ref names and its Record. ref is a name
// ("busybox", "img:tag", "reg:5000/x/y:t", "x@sha256:…"), a full image ID
// ("sha256:<hex>" or the bare hex) or an unambiguous prefix of one (any
// number of hex digits, as docker takes them, when no name matches). The image reads its blobs from the store, verifying them.
// An unknown ref gives an error wrapping ErrNotFound.
func (s *Store) Image(ref string) (v1.Image, Record, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, Record{}, err
	}
	rec, desc, err := s.resolve(idx, ref)
	if err != nil {
		return nil, Record{}, err
	}
	img, err := partial.CompressedToImage(&storeImage{s: s, desc: desc})
	if err != nil {
		return nil, Record{}, err
	}
	return img, rec, nil
}

var errAmbiguous = errors.New("ambiguous image ID prefix")

// candidates lists the images an ambiguous prefix matches: short ID and
// first name.
func candidates(recs []Record) string {
	var parts []string
	for _, r := range recs {
		name := "<none>"
		if len(r.Names) > 0 {
			name = FamiliarName(r.Names[0])
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", r.ID.Hex[:12], name))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// resolve finds the image ref names in idx, the way docker does: a full ID
// first, then a name, then an ID prefix.
func (s *Store) resolve(idx *v1.IndexManifest, ref string) (Record, v1.Descriptor, error) {
	recs, descs, err := s.records(idx)
	if err != nil {
		return Record{}, v1.Descriptor{}, err
	}
	hexPart := strings.TrimPrefix(ref, "sha256:")
	if fullIDRe.MatchString(hexPart) {
		for _, r := range recs {
			if r.ID.Hex == hexPart {
				return r, descs[r.Manifest], nil
			}
		}
		return Record{}, v1.Descriptor{}, notFound("no such image: %s", ref)
	}
	full, nameErr := Normalize(ref)
	if nameErr == nil {
		for _, r := range recs {
			for _, n := range r.Names {
				if n == full {
					return r, descs[r.Manifest], nil
				}
			}
		}
		if i := strings.IndexByte(full, '@'); i >= 0 {
			// repo@digest matches any image of that repository with that manifest.
			repo, dg := full[:i], full[i+1:]
			for _, r := range recs {
				if r.Manifest.String() != dg {
					continue
				}
				for _, n := range r.Names {
					if repository(n) == repo {
						return r, descs[r.Manifest], nil
					}
				}
			}
		}
	}
	if hexPart != "" && isHex(hexPart) {
		var match []Record
		seen := map[v1.Hash]bool{}
		for _, r := range recs {
			if strings.HasPrefix(r.ID.Hex, hexPart) && !seen[r.ID] {
				seen[r.ID] = true
				match = append(match, r)
			}
		}
		if len(match) > 1 {
			return Record{}, v1.Descriptor{}, fmt.Errorf("%w: %s matches %s: type more of the ID", errAmbiguous, ref, candidates(match))
		}
		if len(match) == 1 {
			return match[0], descs[match[0].Manifest], nil
		}
	}
	if nameErr != nil {
		return Record{}, v1.Descriptor{}, nameErr
	}
	return Record{}, v1.Descriptor{}, notFound("no such image: %s", FamiliarName(full))
}

// storeImage is a partial.CompressedImageCore reading from the store.
type storeImage struct {
	s    *Store
	desc v1.Descriptor

	once     sync.Once
	manifest []byte
	parsed   *v1.Manifest
	err      error

	cfgOnce sync.Once
	cfg     *v1.ConfigFile
	cfgErr  error
}

var _ partial.CompressedImageCore = (*storeImage)(nil)

func (i *storeImage) load() {
	i.manifest, i.err = i.s.readBlob(i.desc.Digest)
	if i.err != nil {
		i.err = fmt.Errorf("reading manifest: %w", i.err)
		return
	}
	i.parsed, i.err = v1.ParseManifest(bytes.NewReader(i.manifest))
	if i.err != nil {
		i.err = fmt.Errorf("reading manifest %s: %w", i.desc.Digest, i.err)
	}
}

// MediaType implements partial.CompressedImageCore.
func (i *storeImage) MediaType() (types.MediaType, error) {
	if i.desc.MediaType != "" {
		return i.desc.MediaType, nil
	}
	m, err := i.Manifest()
	if err != nil {
		return "", err
	}
	if m.MediaType == "" {
		return types.OCIManifestSchema1, nil
	}
	return m.MediaType, nil
}

// RawManifest implements partial.CompressedImageCore.
func (i *storeImage) RawManifest() ([]byte, error) {
	i.once.Do(i.load)
	return i.manifest, i.err
}

// Manifest returns the parsed manifest.
func (i *storeImage) Manifest() (*v1.Manifest, error) {
	i.once.Do(i.load)
	return i.parsed, i.err
}

// RawConfigFile implements partial.CompressedImageCore.
func (i *storeImage) RawConfigFile() ([]byte, error) {
	m, err := i.Manifest()
	if err != nil {
		return nil, err
	}
	b, err := i.s.readBlob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return b, nil
}

func (i *storeImage) configFile() (*v1.ConfigFile, error) {
	i.cfgOnce.Do(func() { i.cfg, i.cfgErr = partial.ConfigFile(i) })
	return i.cfg, i.cfgErr
}

// LayerByDigest implements partial.CompressedImageCore.
func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := i.Manifest()
	if err != nil {
		return nil, err
	}
	if h == m.Config.Digest {
		return partial.ConfigLayer(i)
	}
	for n, d := range m.Layers {
		if d.Digest != h {
			continue
		}
		l := &storeLayer{s: i.s, desc: d}
		if cfg, err := i.configFile(); err == nil && n < len(cfg.RootFS.DiffIDs) {
			return &storeLayerWithDiffID{storeLayer: l, diffID: cfg.RootFS.DiffIDs[n]}, nil
		}
		return l, nil
	}
	return nil, notFound("image %s has no layer %s", i.desc.Digest, h)
}

// storeLayer is a partial.CompressedLayer over a stored blob. The blob may
// be gzip, zstd or an uncompressed tar: partial.CompressedToLayer looks at
// its first bytes to decide how to uncompress it.
type storeLayer struct {
	s    *Store
	desc v1.Descriptor
}

// Digest implements partial.CompressedLayer.
func (l *storeLayer) Digest() (v1.Hash, error) { return l.desc.Digest, nil }

// Size implements partial.CompressedLayer.
func (l *storeLayer) Size() (int64, error) { return l.desc.Size, nil }

// MediaType implements partial.CompressedLayer.
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Compressed implements partial.CompressedLayer.
func (l *storeLayer) Compressed() (io.ReadCloser, error) { return l.s.OpenBlob(l.desc.Digest) }

// Descriptor keeps the manifest's descriptor (annotations, URLs) when the
// layer is reused by mutate.
func (l *storeLayer) Descriptor() (*v1.Descriptor, error) {
	d := l.desc
	return &d, nil
}

// storeLayerWithDiffID adds the diff_id from the config, so that DiffID
// needs no read of the blob.
type storeLayerWithDiffID struct {
	*storeLayer
	diffID v1.Hash
}

// DiffID implements partial.WithDiffID.
func (l *storeLayerWithDiffID) DiffID() (v1.Hash, error) { return l.diffID, nil }
