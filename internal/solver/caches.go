package solver

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-build/strata/internal/cacheio"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/store"
)

// Build runs a build described by opts against st: it opens the caches of
// opts.CacheImports, builds, reports what the imports gave and exports the
// cache to opts.CacheExports.
func Build(ctx context.Context, st *store.Store, opts Options) (*Result, error) {
	if opts.Progress == nil {
		opts.Progress = progress.Discard{}
	}
	for _, s := range opts.CacheExports {
		// mode=max exports every stage's layers: keep a blob of each.
		opts.KeepLayerBlobs = opts.KeepLayerBlobs || s.Mode == "max"
	}
	co := cacheio.Options{Version: opts.Version, Registry: opts.CacheRegistry}
	importers := openCaches(ctx, st, opts.CacheImports, co, opts.Progress)
	for _, im := range importers {
		opts.CacheFrom = append(opts.CacheFrom, im)
	}
	res, err := buildImage(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	reportImports(importers, opts.Progress)
	if err := exportCaches(ctx, st, res, opts.CacheExports, co, opts.Progress); err != nil {
		return nil, err
	}
	return res, nil
}

// openCaches opens the caches to import. One that cannot be read is left
// out with a warning, as BuildKit does: the build runs without it.
func openCaches(ctx context.Context, st *store.Store, specs []cacheio.Spec, co cacheio.Options, sink progress.Sink) []*cacheio.Importer {
	var out []*cacheio.Importer
	for _, s := range specs {
		im, err := cacheio.Open(ctx, st, s, co)
		if err != nil {
			sink.Event(progress.Event{Status: progress.Info, Line: fmt.Sprintf("[Warning] --cache-from: %v", err), Time: time.Now()})
			continue
		}
		sink.Event(progress.Event{Status: progress.Info, Line: fmt.Sprintf("importing cache from %s: %d records", s, im.Len()), Time: time.Now()})
		out = append(out, im)
		n, err := im.RestoreMounts(ctx)
		if err != nil {
			sink.Event(progress.Event{Status: progress.Info, Line: fmt.Sprintf("[Warning] --cache-from: %v", err), Time: time.Now()})
		}
		if n > 0 {
			sink.Event(progress.Event{Status: progress.Info, Line: fmt.Sprintf("restored %d cache mounts from %s", n, s), Time: time.Now()})
		}
	}
	return out
}

// reportImports tells what the imported caches gave the build.
func reportImports(importers []*cacheio.Importer, sink progress.Sink) {
	for _, im := range importers {
		st := im.Stats()
		sink.Event(progress.Event{Status: progress.Info, Time: time.Now(),
			Line: fmt.Sprintf("imported from %s: %d records, %d layers, %d bytes downloaded", im.Spec(), st.Records, st.Layers, st.Bytes)})
	}
}

// exportCaches writes the build's cache to each destination.
func exportCaches(ctx context.Context, st *store.Store, res *Result, specs []cacheio.Spec, co cacheio.Options, sink progress.Sink) error {
	for _, s := range specs {
		keys := res.TargetCacheKeys
		if s.Mode == "max" {
			keys = res.CacheKeys
		}
		start := time.Now()
		stats, err := cacheio.Export(ctx, st, keys, s, co)
		if err != nil {
			return err
		}
		res.Timings.Compress += time.Since(start)
		sink.Event(progress.Event{Status: progress.Info, Time: time.Now(),
			Line: fmt.Sprintf("exporting cache to %s done: %d records, %d layers, %d cache mounts, %d bytes, %s (%.1fs)", s, stats.Records, stats.Layers, stats.Mounts, stats.Bytes, stats.Digest, time.Since(start).Seconds())})
	}
	return nil
}
