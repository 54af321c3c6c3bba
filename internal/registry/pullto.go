package registry

import (
	"context"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/store"
)

// ImageWriter is where PullTo writes what it pulls; *store.Store is one.
// PullTo reports more when it has two more methods: HasBlob(v1.Hash) bool
// (the layers it had) and Image(ref) (v1.Image, store.Record, error) (whether
// the name already pointed at the pulled manifest).
type ImageWriter interface {
	WriteImageWith(ctx context.Context, img v1.Image, opts store.WriteImageOptions) (store.Record, error)
}

var _ ImageWriter = (*store.Store)(nil)

type blobHaser interface {
	HasBlob(v1.Hash) bool
}

type imageFinder interface {
	Image(ref string) (v1.Image, store.Record, error)
}

// LayerObserver hears how each layer of a pull goes (progress bars).
type LayerObserver interface {
	// Existing is called before the download for a layer dst already has.
	Existing(digest v1.Hash)
	// Waiting is called before the download for a layer dst lacks.
	Waiting(digest v1.Hash)
	// Read is called as the layer's compressed bytes arrive: n of total so
	// far, done at the end of the blob.
	Read(digest v1.Hash, n, total int64, done bool)
}

// PullToOptions are the choices of PullTo.
type PullToOptions struct {
	Options
	// Observer, when set, hears about every layer.
	Observer LayerObserver
}

// Pulled is what PullTo did.
type Pulled struct {
	// Name is the normalised name the image is stored under.
	Name string
	// Digest is its manifest digest.
	Digest v1.Hash
	// Layers are the layer blob digests, base first.
	Layers []v1.Hash
	// Existed are the layers dst had before the pull (known only when dst
	// has HasBlob).
	Existed map[v1.Hash]bool
	// UpToDate is true when the name already pointed at this manifest (known
	// only when dst has Image).
	UpToDate bool
}

// PullTo pulls ref and writes it into dst under its normalised name and, for
// a tag, under repository@digest too (docker's RepoDigests), extracting its
// layers while they download. A digest reference that names an index is
// stored under the digest of the image picked from it.
func PullTo(ctx context.Context, dst ImageWriter, ref string, opts PullToOptions) (Pulled, error) {
	full, err := store.Normalize(ref)
	if err != nil {
		return Pulled{}, err
	}
	img, dg, err := Pull(ctx, full, opts.Options)
	if err != nil {
		return Pulled{}, err
	}
	p := Pulled{Name: full, Existed: map[v1.Hash]bool{}}
	if p.Digest, err = v1.NewHash(dg.DigestStr()); err != nil {
		return Pulled{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if i := strings.IndexByte(full, '@'); i >= 0 && full[i+1:] != p.Digest.String() {
		p.Name = full[:i] + "@" + p.Digest.String()
	}
	if f, ok := dst.(imageFinder); ok {
		if _, rec, err := f.Image(p.Name); err == nil && rec.Manifest == p.Digest {
			p.UpToDate = true
		}
	}
	m, err := img.Manifest()
	if err != nil {
		return Pulled{}, fmt.Errorf("pulling %s: reading manifest: %w", ref, err)
	}
	has, _ := dst.(blobHaser)
	for _, l := range m.Layers {
		p.Layers = append(p.Layers, l.Digest)
		p.Existed[l.Digest] = has != nil && has.HasBlob(l.Digest)
		switch {
		case opts.Observer == nil:
		case p.Existed[l.Digest]:
			opts.Observer.Existing(l.Digest)
		default:
			opts.Observer.Waiting(l.Digest)
		}
	}
	if opts.Observer != nil {
		img = &observedImage{Image: img, obs: opts.Observer}
	}
	names := []string{p.Name}
	if !strings.Contains(p.Name, "@") {
		// Docker records the digest a tag was pulled at (RepoDigests).
		repo, _ := store.RepoTag(p.Name)
		names = append(names, repo+"@"+p.Digest.String())
	}
	// Each layer is extracted as it downloads, as docker pull does: a run
	// or build on the image then starts without extracting.
	if _, err := dst.WriteImageWith(ctx, img, store.WriteImageOptions{Names: names, Extract: true}); err != nil {
		return Pulled{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return p, nil
}

// Puller pulls base images into a store for a build (the solver's Puller).
type Puller struct {
	Dst     ImageWriter
	Options Options
}

// Pull pulls ref from its registry and stores it under ref's normalised name.
func (p *Puller) Pull(ctx context.Context, ref string) error {
	_, err := PullTo(ctx, p.Dst, ref, PullToOptions{Options: p.Options})
	return err
}

// observedImage is a pulled image whose layer reads an observer hears.
type observedImage struct {
	v1.Image
	obs LayerObserver
}

// Layers implements v1.Image.
func (i *observedImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for n, l := range ls {
		out[n] = &observedLayer{Layer: l, obs: i.obs}
	}
	return out, nil
}

// LayerByDigest implements v1.Image.
func (i *observedImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return &observedLayer{Layer: l, obs: i.obs}, nil
}

// observedLayer reports the compressed bytes read from a layer.
type observedLayer struct {
	v1.Layer
	obs LayerObserver
}

// Compressed implements v1.Layer.
func (l *observedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	d, err := l.Digest()
	if err != nil {
		return rc, nil
	}
	size, _ := l.Size()
	return &observedReader{ReadCloser: rc, obs: l.obs, digest: d, total: size}, nil
}

type observedReader struct {
	io.ReadCloser
	obs    LayerObserver
	digest v1.Hash
	n      int64
	total  int64
}

func (r *observedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	r.obs.Read(r.digest, r.n, r.total, err == io.EOF)
	return n, err
}
