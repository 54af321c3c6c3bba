package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pull resolves ref (docker's normalisation: "busybox" is
// docker.io/library/busybox:latest), picks the image for opts.Platform when
// ref names an index, and returns the image with its canonical digest
// reference. The manifest and config are fetched now; layers are fetched when
// read, with ctx, so ctx must outlive the reads. A layer download that breaks
// is reopened and resumed up to opts.Retries times.
func Pull(ctx context.Context, ref string, opts Options) (v1.Image, name.Digest, error) {
	r, err := opts.parseRef(ref)
	if err != nil {
		return nil, name.Digest{}, err
	}
	img, dg, err := fetchMirrored(ctx, r, opts)
	if err != nil {
		return nil, name.Digest{}, err
	}
	out, err := partial.CompressedToImage(&resumingImage{Image: img, ctx: ctx, opts: opts})
	if err != nil {
		return nil, name.Digest{}, fmt.Errorf("pulling %s: %w", r, err)
	}
	return out, r.Context().Digest(dg.String()), nil
}

// fetchMirrored fetches r from the first of its registry's mirrors that has
// it (Options.Config), else from the registry itself. A mirror that fails
// is passed over; its error is told only when the registry fails too.
func fetchMirrored(ctx context.Context, r name.Reference, opts Options) (v1.Image, v1.Hash, error) {
	var mirrorErrs []error
	for _, m := range opts.Config.host(r.Context().RegistryStr()).Mirrors {
		mr, err := mirrorRef(r, m, opts)
		if err != nil {
			mirrorErrs = append(mirrorErrs, err)
			continue
		}
		img, dg, err := fetchImage(ctx, mr, opts)
		if err == nil {
			return img, dg, nil
		}
		if ctx.Err() != nil {
			return nil, v1.Hash{}, ctx.Err()
		}
		mirrorErrs = append(mirrorErrs, fmt.Errorf("mirror %s: %w", m, explain("pulling", mr, err)))
	}
	img, dg, err := fetchImage(ctx, r, opts)
	if err != nil {
		err = explain("pulling", r, err)
		if len(mirrorErrs) > 0 {
			err = fmt.Errorf("%w (and its mirrors failed: %w)", err, errors.Join(mirrorErrs...))
		}
		return nil, v1.Hash{}, err
	}
	return img, dg, nil
}

// mirrorRef is r in the same repository of mirror (host[:port]).
func mirrorRef(r name.Reference, mirror string, opts Options) (name.Reference, error) {
	sep := ":"
	if _, ok := r.(name.Digest); ok {
		sep = "@"
	}
	return opts.parseRef(mirror + "/" + r.Context().RepositoryStr() + sep + r.Identifier())
}

// fetchImage fetches the manifest and config of r, so that errors show up
// now, trying again when a connection breaks in the middle of a body (the
// transport only retries failed requests).
func fetchImage(ctx context.Context, r name.Reference, opts Options) (v1.Image, v1.Hash, error) {
	for try := 0; ; try++ {
		ro, err := opts.remoteOptions(ctx)
		if err != nil {
			return nil, v1.Hash{}, err
		}
		img, err := remote.Image(r, ro...)
		if err == nil {
			_, err = img.RawConfigFile()
		}
		if err == nil {
			dg, err := img.Digest()
			return img, dg, err
		}
		if !retryable(err) || try >= opts.retries() {
			return nil, v1.Hash{}, err
		}
		t := time.NewTimer(opts.retryWait(try))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, v1.Hash{}, ctx.Err()
		case <-t.C:
		}
	}
}

// resumingImage is a remote image whose layers resume broken downloads.
type resumingImage struct {
	v1.Image
	ctx  context.Context
	opts Options
}

var _ partial.CompressedImageCore = (*resumingImage)(nil)

// LayerByDigest implements partial.CompressedImageCore.
func (i *resumingImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	l, err := i.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return &resumingLayer{CompressedLayer: l, ctx: i.ctx, opts: i.opts}, nil
}

// resumingLayer reopens its compressed stream when it breaks.
type resumingLayer struct {
	partial.CompressedLayer
	ctx  context.Context
	opts Options
}

// DiffID implements partial.WithDiffID, so that the diff_id comes from the
// config instead of a download.
func (l *resumingLayer) DiffID() (v1.Hash, error) {
	if d, ok := l.CompressedLayer.(partial.WithDiffID); ok {
		return d.DiffID()
	}
	return v1.Hash{}, fmt.Errorf("layer has no diff_id")
}

// Descriptor keeps the manifest's descriptor (annotations, urls).
func (l *resumingLayer) Descriptor() (*v1.Descriptor, error) {
	return partial.Descriptor(l.CompressedLayer)
}

// Compressed implements partial.CompressedLayer.
func (l *resumingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.CompressedLayer.Compressed()
	if err != nil {
		return nil, err
	}
	return &resumingReader{open: l.CompressedLayer.Compressed, rc: rc, ctx: l.ctx, opts: l.opts}, nil
}

var _ partial.CompressedLayer = (*resumingLayer)(nil)

// resumingReader reads a blob; when the connection breaks it opens the blob
// again and skips what was already read. The opener verifies the digest of
// the whole stream at its end, so a resumed stream is checked like any other.
type resumingReader struct {
	open  func() (io.ReadCloser, error)
	rc    io.ReadCloser
	ctx   context.Context
	opts  Options
	read  int64
	tries int
}

func (r *resumingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.read += int64(n)
	if err == nil || err == io.EOF || !retryable(err) || r.tries >= r.opts.retries() {
		return n, err
	}
	if rerr := r.reopen(err); rerr != nil {
		return n, rerr
	}
	return n, nil
}

// reopen opens the blob again, after a wait that doubles with every try, and
// skips to where the reading stopped.
func (r *resumingReader) reopen(cause error) error {
	r.rc.Close()
	r.rc = io.NopCloser(eofReader{})
	for r.tries < r.opts.retries() {
		t := time.NewTimer(r.opts.retryWait(r.tries))
		r.tries++
		select {
		case <-r.ctx.Done():
			t.Stop()
			return fmt.Errorf("resuming a broken download: %w", r.ctx.Err())
		case <-t.C:
		}
		rc, err := r.open()
		if err == nil {
			if _, err = io.CopyN(io.Discard, rc, r.read); err == nil {
				r.rc = rc
				return nil
			}
			rc.Close()
		}
		cause = err
		if !retryable(err) {
			break
		}
	}
	return fmt.Errorf("resuming a broken download: %w", cause)
}

func (r *resumingReader) Close() error { return r.rc.Close() }

// eofReader stands in for a stream that could not be reopened.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// Head returns the descriptor of the manifest ref names, asking its
// registry (never a mirror).
func Head(ctx context.Context, ref string, opts Options) (*v1.Descriptor, error) {
	r, err := opts.parseRef(ref)
	if err != nil {
		return nil, err
	}
	ro, err := opts.remoteOptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking %s: %w", r, err)
	}
	d, err := remote.Head(r, ro...)
	if err != nil {
		return nil, explain("asking", r, err)
	}
	return d, nil
}
