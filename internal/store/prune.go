package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// All also removes the RUN --mount=type=cache directories.
	All bool
	// Until keeps what is younger than this (0: no age limit): cache
	// records by creation, dangling images by their config's creation
	// time, cache mounts by their newest file.
	Until time.Duration
	// Now is the time Until counts back from (zero: time.Now()).
	Now time.Time
}

// PruneStats tell what Prune removed.
type PruneStats struct {
	// CacheRecords is the number of build cache records deleted.
	CacheRecords int
	// Images are the IDs of the dangling images deleted.
	Images []v1.Hash
	// CacheMounts is the number of cache mount directories deleted.
	CacheMounts int
	// MountsDeferred is set when cache mounts were to be deleted but a
	// build held the store.
	MountsDeferred bool
	// GC is what the garbage collection after it freed.
	GC GCStats
	// Reclaimed is the bytes freed in all: blobs, layer dirs, temporary
	// files, cache mounts and cache records.
	Reclaimed int64
}

// Prune deletes the build cache records and the dangling (nameless) images,
// with opts.All the cache mounts too, then collects the blobs and layer dirs
// nothing needs any more. A build running meanwhile keeps what it uses: GC
// and the removal of cache mounts wait for a store nobody builds in
// (GC.Deferred and MountsDeferred report it).
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (PruneStats, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	old := func(t time.Time) bool { return opts.Until <= 0 || now.Sub(t) >= opts.Until }
	var st PruneStats
	recs, err := s.CacheRecords()
	if err != nil {
		return st, err
	}
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if !old(r.Created) {
			continue
		}
		var n int64
		if p, err := s.cachePath(r.Key); err == nil {
			if fi, err := os.Stat(p); err == nil {
				n = fi.Size()
			}
		}
		if err := s.DeleteCache(r.Key); err != nil && !errors.Is(err, ErrNotFound) {
			return st, err
		}
		st.CacheRecords++
		st.Reclaimed += n
	}
	if st.Images, err = s.pruneDangling(old); err != nil {
		return st, err
	}
	if opts.All {
		if err := s.pruneMounts(ctx, old, &st); err != nil {
			return st, err
		}
	}
	gc, err := s.GC(ctx)
	st.GC = gc
	st.Reclaimed += gc.Bytes
	if err != nil {
		return st, fmt.Errorf("collecting garbage: %w", err)
	}
	return st, nil
}

// pruneDangling removes the nameless images old accepts.
func (s *Store) pruneDangling(old func(time.Time) bool) ([]v1.Hash, error) {
	unlock, err := s.lockShared()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var removed []v1.Hash
	err = s.updateIndex(func(idx *v1.IndexManifest) error {
		removed = nil
		recs, _, err := s.records(idx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if len(r.Names) == 0 && old(r.Created) {
				removeUnnamed(idx, r.Manifest)
				removed = append(removed, r.ID)
			}
		}
		return nil
	})
	return removed, err
}

// pruneMounts removes the cache mounts old accepts, when no build holds the
// store.
func (s *Store) pruneMounts(ctx context.Context, old func(time.Time) bool, st *PruneStats) error {
	unlock, err := s.tryLockExclusive()
	if errors.Is(err, errWouldBlock) {
		st.MountsDeferred = true
		return nil
	}
	if err != nil {
		return err
	}
	defer unlock()
	mounts, err := s.cacheMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !old(m.Modified) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.path("cachemounts"), m.ID)); err != nil {
			return fmt.Errorf("deleting cache mount %s: %w", m.ID, err)
		}
		st.CacheMounts++
		st.Reclaimed += m.Size
	}
	return nil
}
