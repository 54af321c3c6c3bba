package output

import (
	"context"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/store"
)

// EarlyPush uploads the layers a build writes to the registries of its push
// outputs while the build goes on, so that the push at the end finds them
// there and sends little more than the manifest. It is the build's
// solver.LayerSink: LayerWritten queues a layer, Run uploads what is
// queued until Close.
//
// An early upload that fails is not an error of the build: the push at the
// end uploads every blob the registry lacks, and reports its own failures.
type EarlyPush struct {
	st      *store.Store
	targets []earlyTarget
	queue   chan v1.Hash
	done    chan struct{}
	mu      sync.Mutex
	errs    []error
}

// earlyTarget is one repository to push to, with the options (compression)
// of its output.
type earlyTarget struct {
	ref  string
	opts registry.Options
}

// NewEarlyPush returns an EarlyPush for the push outputs among specs (their
// names and the build's tags), sharing ro's Compressor with the final
// pushes; nil when no output pushes.
func NewEarlyPush(st *store.Store, specs []Spec, tags []string, ro registry.Options) *EarlyPush {
	p := &EarlyPush{st: st, queue: make(chan v1.Hash, 64), done: make(chan struct{})}
	for _, sp := range specs {
		if !sp.Push {
			continue
		}
		o := ro
		o.Compression, o.CompressionLevel, o.ForceCompression = sp.Compression, sp.CompressionLevel, sp.ForceCompression
		if o.Compression == "" {
			o.Compression = layer.Gzip
		}
		for _, n := range append(append([]string(nil), tags...), sp.Names...) {
			if ref, err := store.Normalize(n); err == nil {
				p.targets = append(p.targets, earlyTarget{ref: ref, opts: o})
			}
		}
	}
	if len(p.targets) == 0 {
		return nil
	}
	return p
}

// LayerWritten implements solver.LayerSink: it queues the blob for upload.
// It never blocks the build: with the queue full, the layer is left to the
// final push.
func (p *EarlyPush) LayerWritten(blob v1.Hash) {
	select {
	case p.queue <- blob:
	default:
	}
}

// Run uploads queued layers, two at a time, until Close is called and the
// queue is drained, or ctx ends.
func (p *EarlyPush) Run(ctx context.Context) {
	defer close(p.done)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for blob := range p.queue {
		for _, tg := range p.targets {
			g.Go(func() error {
				p.upload(gctx, blob, tg)
				return nil
			})
		}
	}
	_ = g.Wait() // every upload returns nil: failures are kept in p.errs
}

// upload pushes one layer blob of the store to one target.
func (p *EarlyPush) upload(ctx context.Context, blob v1.Hash, tg earlyTarget) {
	size, err := p.st.BlobSize(blob)
	if err == nil {
		var l v1.Layer
		// A layer the build writes is a plain tar: its digest is its diff_id.
		l, err = p.st.Layer(v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: blob, Size: size}, blob)
		if err == nil {
			err = registry.PushLayer(ctx, l, tg.ref, tg.opts)
		}
	}
	if err != nil {
		p.mu.Lock()
		p.errs = append(p.errs, err)
		p.mu.Unlock()
	}
}

// Close ends the queue and waits for the uploads under way; it returns the
// errors of the uploads that failed (for the caller to show as warnings).
func (p *EarlyPush) Close() []error {
	close(p.queue)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs
}
