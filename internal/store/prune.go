package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImagePrune selects the images Prune removes.
type ImagePrune int

const (
	// PruneNoImages keeps every image.
	PruneNoImages ImagePrune = iota
	// PruneDangling removes the images with no name (`image prune`).
	PruneDangling
	// PruneAllImages removes every image (`image prune -a`: strata has no
	// containers, so no image is in use).
	PruneAllImages
)

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// Images selects the images to remove.
	Images ImagePrune
	// Cache removes the build cache records.
	Cache bool
	// Mounts removes the RUN --mount=type=cache directories.
	Mounts bool
	// Until keeps what is younger than this (0: no age limit): cache
	// records by creation, images by their config's creation time, cache
	// mounts by their newest file.
	Until time.Duration
	// Now is the time Until counts back from (zero: time.Now()).
	Now time.Time
	// KeepStorage, with Cache, keeps the newest cache records whose bytes
	// (as DiskUsage.BuildCache counts them) fit in it; 0 keeps none.
	KeepStorage int64
}

// PruneStats tell what Prune removed.
type PruneStats struct {
	// CacheRecords is the number of build cache records deleted.
	CacheRecords int
	// Images are the IDs of the images deleted.
	Images []v1.Hash
	// Untagged are the names removed with them.
	Untagged []string
	// CacheMounts is the number of cache mount directories deleted.
	CacheMounts int
	// MountsDeferred is set when cache mounts were to be deleted but a
	// build held the store.
	MountsDeferred bool
	// GC is what the garbage collection after it removed.
	GC GCStats
	// Reclaimed is the bytes freed under the store root, counted as
	// `du -sb --apparent-size` counts them (each inode once): blobs, layer
	// dirs, size caches, stale temporary files, cache records, context hash
	// caches, cache mounts, and what index.json shrank by.
	Reclaimed int64
}

// Prune deletes what opts selects, then collects the blobs and layer dirs
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
	before, err := s.measureDisk(ctx)
	if err != nil {
		return st, fmt.Errorf("measuring the store: %w", err)
	}
	idxBefore := fileSize(s.path("index.json"))
	if opts.Cache {
		keep, err := s.cacheToKeep(before, opts.KeepStorage)
		if err != nil {
			return st, err
		}
		if err := s.pruneCache(ctx, func(r CacheRecord) bool { return !keep[r.Key] && old(r.Created) }, &st); err != nil {
			return st, err
		}
		if err := s.pruneContextHashes(ctx, old); err != nil {
			return st, err
		}
	}
	if opts.Images != PruneNoImages {
		if err := s.pruneImages(opts.Images, old, &st); err != nil {
			return st, err
		}
	}
	if opts.Mounts {
		if err := s.pruneMounts(ctx, old, &st); err != nil {
			return st, err
		}
	}
	gc, err := s.GC(ctx)
	st.GC = gc
	st.Reclaimed = before.freed(s.goneSince(before)) + idxBefore - fileSize(s.path("index.json"))
	if err != nil {
		return st, fmt.Errorf("collecting garbage: %w", err)
	}
	return st, nil
}

// fileSize is the size of the file at p, 0 when it cannot be read.
func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// cacheToKeep returns the keys of the newest cache records whose bytes
// fit in limit: their record files and the blobs and layer dirs only they
// (of all records) and no image need.
func (s *Store) cacheToKeep(dm *diskMap, limit int64) (map[string]bool, error) {
	keep := map[string]bool{}
	if limit <= 0 {
		return keep, nil
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	imgBlobs, imgChains, err := s.rootsOf(idx.Manifests, nil)
	if err != nil {
		return nil, err
	}
	recs, err := s.CacheRecords()
	if err != nil {
		return nil, err
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Created.After(recs[j].Created) })
	bytes := map[unit]int64{}
	dm.byUnit(func(u unit, n int64) { bytes[u] += n })
	counted := map[unit]bool{}
	var total int64
	for _, r := range recs {
		units := []unit{{unitCache, r.Key}}
		for _, h := range r.Blobs {
			if !imgBlobs[h.Hex] {
				units = append(units, unit{unitBlob, h.Hex}, unit{unitSize, h.Hex})
			}
		}
		for _, h := range r.Chains {
			if !imgChains[h.Hex] {
				units = append(units, unit{unitLayer, h.Hex})
			}
		}
		var n int64
		for _, u := range units {
			if !counted[u] {
				n += bytes[u]
			}
		}
		if total+n > limit {
			break
		}
		total += n
		for _, u := range units {
			counted[u] = true
		}
		keep[r.Key] = true
	}
	return keep, nil
}

// pruneCache removes the cache records del accepts.
func (s *Store) pruneCache(ctx context.Context, del func(CacheRecord) bool, st *PruneStats) error {
	recs, err := s.CacheRecords()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !del(r) {
			continue
		}
		if err := s.DeleteCache(r.Key); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		st.CacheRecords++
	}
	return nil
}

// pruneImages removes the images which and old select.
func (s *Store) pruneImages(which ImagePrune, old func(time.Time) bool, st *PruneStats) error {
	unlock, err := s.lockShared()
	if err != nil {
		return err
	}
	defer unlock()
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		st.Images, st.Untagged = nil, nil
		recs, _, err := s.records(idx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if !old(r.Created) || (which == PruneDangling && len(r.Names) > 0) {
				continue
			}
			for _, n := range r.Names {
				removeName(idx, n)
				st.Untagged = append(st.Untagged, FamiliarName(n))
			}
			removeUnnamed(idx, r.Manifest)
			st.Images = append(st.Images, r.ID)
		}
		return nil
	})
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
	}
	return nil
}

// wouldFree is what Prune(opts) with no Until would reclaim, given the
// disk map dm, the index idx and the cache records recs measured together.
func (s *Store) wouldFree(dm *diskMap, idx *v1.IndexManifest, recs []CacheRecord, opts PruneOptions) (int64, error) {
	after := *idx
	after.Manifests = nil
	for _, d := range idx.Manifests {
		drop := d.MediaType.IsImage() && (opts.Images == PruneAllImages ||
			opts.Images == PruneDangling && d.Annotations[annotRefName] == "")
		if !drop {
			after.Manifests = append(after.Manifests, d)
		}
	}
	keptRecs := recs
	if opts.Cache {
		keptRecs = nil
	}
	blobs, chains, err := s.rootsOf(after.Manifests, keptRecs)
	if err != nil {
		return 0, err
	}
	gc := collects(blobs, chains, dm.tempMod, opts.Now)
	gone := func(u unit) bool {
		switch u.kind {
		case unitCache, unitHashes:
			return opts.Cache
		case unitMount:
			return opts.Mounts
		}
		return gc(u)
	}
	n := dm.freed(gone)
	if len(after.Manifests) != len(idx.Manifests) {
		n += fileSize(s.path("index.json")) - indexSize(&after)
	}
	return n, nil
}

// indexSize is the size index.json has when updateIndex writes idx.
func indexSize(idx *v1.IndexManifest) int64 {
	c := *idx
	if c.Manifests == nil {
		c.Manifests = []v1.Descriptor{}
	}
	if c.MediaType == "" {
		c.MediaType = types.OCIImageIndex
	}
	b, _ := json.Marshal(&c)
	return int64(len(b))
}
