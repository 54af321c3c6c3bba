package solver

import (
	"context"
	"fmt"
	"os"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/rootless"
	"github.com/strata-build/strata/internal/snapshot"
)

// newSnapshotter returns the snapshotter opts.Snapshotter names, making its
// snapshots in the build's scratch dir (on the store's filesystem, so that
// committed layer dirs are renamed into the store).
func (b *builder) newSnapshotter(ctx context.Context) (snapshot.Snapshotter, error) {
	iso, kind, err := b.chooseIsolation(ctx)
	if err != nil {
		return nil, err
	}
	if iso == executor.IsolationChroot {
		b.exec = isolated{exec: b.exec, iso: iso}
	}
	sn, err := snapshot.New(kind, snapshot.Options{
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

// chooseIsolation resolves the isolation and the snapshotter of the build:
// auto isolation probes the built-in sandbox's namespaces and falls back on
// chroot isolation, which needs the native snapshotter, and says so once.
func (b *builder) chooseIsolation(ctx context.Context) (executor.Isolation, snapshot.Kind, error) {
	iso, kind := b.opts.Isolation, b.opts.Snapshotter
	why := ""
	switch iso {
	case "", executor.IsolationAuto:
		iso = executor.IsolationNamespaces
		if _, builtin := b.exec.(sandbox); builtin {
			iso, why = autoIsolation(ctx)
		}
	case executor.IsolationNamespaces, executor.IsolationChroot:
	default:
		return "", "", fmt.Errorf("build: --isolation: %w %q", executor.ErrUnknownIsolation, iso)
	}
	if iso != executor.IsolationChroot {
		if why != "" {
			// Overlay in a user namespace needs Linux 5.11 and an upper
			// filesystem that takes user xattrs: auto tries it.
			if kind == "" {
				kind = snapshot.KindAuto
			}
			line := fmt.Sprintf("isolation: namespaces, in a user namespace of strata's own (%s); snapshotter: %s", why, kind)
			b.sink.Event(progress.Event{Status: progress.Info, Line: line, Time: time.Now()})
		}
		return iso, kind, nil
	}
	switch kind {
	case "", snapshot.KindAuto, snapshot.KindNative:
	default:
		return "", "", fmt.Errorf("build: --snapshotter %s cannot be used with chroot isolation (no mounts without mount namespaces): use --snapshotter native, or --isolation namespaces where namespaces are allowed", kind)
	}
	if why != "" {
		line := fmt.Sprintf("isolation: chroot (%s); snapshotter: native (no overlay mount without mount namespaces)", why)
		b.sink.Event(progress.Event{Status: progress.Info, Line: line, Time: time.Now()})
	}
	return iso, snapshot.KindNative, nil
}

// autoIsolation resolves auto isolation: namespaces where the sandbox's
// namespaces can be made, chroot elsewhere, and why, when it is not plain
// namespaces: what refused the namespaces (and the user namespace strata
// tried first), or that they are made in strata's own user namespace.
func autoIsolation(ctx context.Context) (executor.Isolation, string) {
	entered, own := rootless.OwnNote()
	err := executor.Probe(ctx)
	switch {
	case err != nil && own != "":
		return executor.IsolationChroot, err.Error() + "; " + own
	case err != nil:
		return executor.IsolationChroot, err.Error()
	case entered:
		return executor.IsolationNamespaces, "without it: " + own
	}
	return executor.IsolationNamespaces, ""
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

// nativeFromMount returns the mount of RUN --mount=type=bind,from= under
// the native snapshotter, where no overlay of lowers can be mounted: a bind
// mount of sub inside a view of lowers (a copy, for an rw mount, which
// cleanup throws away with whatever the RUN wrote). Overlay stores use a
// layers mount (stageBind).
func (b *builder) nativeFromMount(ctx context.Context, lowers []string, mnt executor.Mount) (executor.Mount, func(), error) {
	view := b.snap.View // a native view links the lowers' files: read-only
	if !mnt.ReadOnly {
		view = b.snap.Prepare
	}
	v, err := view(ctx, lowers)
	if err != nil {
		return executor.Mount{}, func() {}, fmt.Errorf("making the source's view: %w", err)
	}
	cleanup := func() { b.snap.Remove(v) }
	tree := v.Mount().Tree
	src, err := securejoin.SecureJoin(tree, mnt.Sub)
	if err != nil {
		cleanup()
		return executor.Mount{}, func() {}, fmt.Errorf("resolving %s in the source: %w", mnt.Sub, err)
	}
	if _, err := os.Stat(src); err != nil {
		cleanup()
		return executor.Mount{}, func() {}, fmt.Errorf("source %s: %w", mnt.Sub, err)
	}
	return executor.Mount{Type: "bind", Source: src, Target: mnt.Target, ReadOnly: mnt.ReadOnly}, cleanup, nil
}
