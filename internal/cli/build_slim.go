package cli

import (
	"context"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/slim"
	"github.com/strata-build/strata/internal/store"
)

// buildSlimmer is the solver's Slimmer for --slim-probe: it keeps what
// slim found, for the summary.
type buildSlimmer struct {
	st   *store.Store
	opts slim.Options
	res  *slim.Result
}

func (b *buildSlimmer) Slim(ctx context.Context, img v1.Image) (v1.Image, error) {
	res, err := slim.Image(ctx, b.st, img, b.opts)
	if err != nil {
		return nil, err
	}
	b.res = res
	return res.Image, nil
}

// slimmer returns the Slimmer that --slim-probe and --slim-http-probe ask
// for, or nil.
func (f *buildFlags) slimmer(st *store.Store) (*buildSlimmer, error) {
	if len(f.slimProbes)+len(f.slimHTTP) == 0 {
		return nil, nil
	}
	ref := "the built image"
	if len(f.tags) > 0 {
		ref = f.tags[0]
	}
	sf := &slimFlags{probes: f.slimProbes, httpProbes: f.slimHTTP, timeout: time.Minute, snapshotter: f.snapshotter}
	opts, err := sf.options(ref)
	if err != nil {
		return nil, err
	}
	return &buildSlimmer{st: st, opts: opts}, nil
}
