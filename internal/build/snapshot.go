package build

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/snapshot"
)

// newSnapshotter returns the snapshotter opts.Snapshotter names, making its
// snapshots in the build's scratch dir (on the store's filesystem, so that
// committed layer dirs are renamed into the store).
func (b *builder) newSnapshotter() (snapshot.Snapshotter, error) {
	sn, err := snapshot.New(b.opts.Snapshotter, snapshot.Options{
		Dir: b.tmp,
		Notice: func(msg string) {
			b.sink.Event(progress.Event{Status: progress.Info, Line: msg, Time: time.Now()})
		},
	})
	if err != nil {
		return nil, fmt.Errorf("build: --snapshotter: %w", err)
	}
	return sn, nil
}

// sourceView makes the read-only view of a COPY --from source that the copy
// op mounts; the returned func removes it.
func (b *builder) sourceView(ctx context.Context, arg *copyArg) (func(), error) {
	if len(arg.SrcLowers) == 0 {
		return func() {}, nil
	}
	v, err := b.snap.View(ctx, arg.SrcLowers)
	if err != nil {
		return func() {}, fmt.Errorf("making the source's view: %w", err)
	}
	m := v.Mount()
	arg.Src = &m
	return func() { b.snap.Remove(v) }, nil
}

// fromMount returns the mount of RUN --mount=type=bind,from=: with overlay,
// a layers mount of lowers (writes land in a throwaway tmpfs); with native,
// a bind mount of a copy of them, thrown away with cleanup.
func (b *builder) fromMount(ctx context.Context, lowers []string, target string, readOnly bool) (executor.Mount, func(), error) {
	if _, ok := b.snap.(*snapshot.Overlay); ok {
		mnt := executor.Mount{Type: "layers", Lowers: lowers, Target: target, ReadOnly: true}
		if !readOnly {
			scratch, err := os.MkdirTemp(b.tmp, "bindrw-")
			if err != nil {
				return mnt, func() {}, err
			}
			mnt.ReadOnly, mnt.Source = false, scratch
		}
		return mnt, func() {}, nil
	}
	v, err := b.snap.View(ctx, lowers)
	if err != nil {
		return executor.Mount{}, func() {}, err
	}
	mnt := executor.Mount{Type: "bind", Source: v.Mount().Tree, Target: target, ReadOnly: readOnly}
	return mnt, func() { b.snap.Remove(v) }, nil
}
