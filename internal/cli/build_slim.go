package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/strata-build/strata/internal/slim"
	"github.com/strata-build/strata/internal/store"
)

// buildSlimmer is the solver's Slimmer for --slim-probe: it keeps what
// slim found, for the summary.
type buildSlimmer struct {
	st     *store.Store
	opts   slim.Options
	res    *slim.Result
	before int64 // the image size before slimming
}

func (b *buildSlimmer) Slim(ctx context.Context, img v1.Image) (v1.Image, error) {
	before, err := contentSize(b.st, img)
	if err != nil {
		return nil, err
	}
	res, err := slim.Image(ctx, b.st, img, b.opts)
	if err != nil {
		return nil, err
	}
	b.res, b.before = res, before
	return res.Image, nil
}

// contentSize is the size docker shows for img, whose layers are stored.
func contentSize(st *store.Store, img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, fmt.Errorf("sizing the built image: %w", err)
	}
	var size int64
	for _, l := range m.Layers {
		n, err := st.LayerContentSize(l)
		if err != nil {
			return 0, fmt.Errorf("sizing the built image: %w", err)
		}
		size += n
	}
	return size, nil
}

// addBuildSlimFlags adds build's --slim-* flags, strata slim's own.
func addBuildSlimFlags(fl *pflag.FlagSet, f *slimFlags) {
	fl.StringArrayVar(&f.probes, "slim-probe", nil, "slim the image before tagging it, as strata slim --probe: arguments that replace its CMD for one traced run; repeatable")
	fl.StringArrayVar(&f.httpProbes, "slim-http-probe", nil, "slim the image before tagging it, as strata slim --http-probe PORT:PATH; repeatable")
	fl.StringArrayVar(&f.include, "slim-include", nil, "with --slim-probe: as strata slim --include, an absolute path kept with everything under it; repeatable")
	fl.StringArrayVar(&f.includeBin, "slim-include-bin", nil, "with --slim-probe: as strata slim --include-bin, an executable kept with its interpreter and shared libraries; repeatable")
	fl.BoolVar(&f.keepShell, "slim-keep-shell", false, "with --slim-probe: as strata slim --keep-shell, keep /bin/sh and what it needs")
	fl.BoolVar(&f.keepBase, "slim-keep-base", false, "with --slim-probe: as strata slim --keep-base, keep the layers of the image's base and slim only the layers above")
}

// slimmer returns the Slimmer that --slim-probe and --slim-http-probe ask
// for, or nil.
func (f *buildFlags) slimmer(st *store.Store) (*buildSlimmer, error) {
	sf := f.slimFlags
	if len(sf.probes)+len(sf.httpProbes) == 0 {
		switch {
		case len(sf.include) > 0:
			return nil, errors.New("--slim-include needs --slim-probe or --slim-http-probe: it says what a slimmed image keeps")
		case len(sf.includeBin) > 0:
			return nil, errors.New("--slim-include-bin needs --slim-probe or --slim-http-probe: it says what a slimmed image keeps")
		case sf.keepShell:
			return nil, errors.New("--slim-keep-shell needs --slim-probe or --slim-http-probe: it says what a slimmed image keeps")
		case sf.keepBase:
			return nil, errors.New("--slim-keep-base needs --slim-probe or --slim-http-probe: it says what a slimmed image keeps")
		}
		return nil, nil
	}
	ref := "the built image"
	if len(f.tags) > 0 {
		ref = f.tags[0]
	}
	sf.timeout, sf.snapshotter = time.Minute, f.snapshotter
	opts, err := sf.options(ref)
	if err != nil {
		return nil, err
	}
	return &buildSlimmer{st: st, opts: opts}, nil
}
