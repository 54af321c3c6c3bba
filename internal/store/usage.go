package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Usage is what the store holds, as `docker system df` shows it: the
// images, cache records and cache mounts, and every byte under the store
// root by what holds it.
type Usage struct {
	// Images are the store's images, newest first.
	Images []ImageUsage
	// Cache are the build cache records, by key.
	Cache []CacheUsage
	// CacheMounts are the RUN --mount=type=cache directories.
	CacheMounts []MountUsage
	// Layers counts the layer blobs of the images.
	Layers LayerUsage
	// Disk is every byte under the store root by what holds it.
	Disk DiskUsage
	// Reclaimable is what each prune command would free, in the order
	// of PruneCommands().
	Reclaimable []Reclaim
	// Garbage is what GC alone (run by every prune and rmi) would free:
	// unreferenced blobs and layer dirs, stale temporary files.
	Garbage int64
}

// DiskUsage divides the bytes under the store root, counted as
// `du -sb --apparent-size ROOT` counts them (every inode once, hard links
// once, directories' own sizes too), so that the fields add up to Total.
type DiskUsage struct {
	// Total is every byte under the root.
	Total int64 `json:"total"`
	// Images are the blobs, extracted layer dirs and size caches some
	// image needs.
	Images int64 `json:"images"`
	// BuildCache are the cache records, the context hash caches, and the
	// blobs, layer dirs and size caches only the records need.
	BuildCache int64 `json:"buildCache"`
	// CacheMounts are the RUN --mount=type=cache directories.
	CacheMounts int64 `json:"cacheMounts"`
	// Unreferenced are blobs, layer dirs and size caches nothing needs
	// (the next GC removes them).
	Unreferenced int64 `json:"unreferenced"`
	// Temp are the entries of tmp/ (a running build's, or left by a
	// killed one: GC removes those older than an hour).
	Temp int64 `json:"temp"`
	// Metadata is index.json, oci-layout, the lock files and the store's
	// own directories.
	Metadata int64 `json:"metadata"`
}

// Reclaim is what one prune command would free.
type Reclaim struct {
	// Command is the strata command line, as "builder prune -a".
	Command string `json:"command"`
	// Bytes is what it would free, as PruneStats.Reclaimed counts it.
	Bytes int64 `json:"bytes"`
}

// PruneCommand is a prune command of strata's CLI and what it removes.
type PruneCommand struct {
	Command string
	Options PruneOptions
}

// PruneCommands returns the prune commands strata has, with their options.
func PruneCommands() []PruneCommand {
	return []PruneCommand{
		{"image prune", PruneOptions{Images: PruneDangling}},
		{"image prune -a", PruneOptions{Images: PruneAllImages}},
		{"builder prune", PruneOptions{Cache: true}},
		{"builder prune -a", PruneOptions{Cache: true, Mounts: true}},
		{"prune", PruneOptions{Images: PruneDangling, Cache: true}},
		// like docker system prune -a: every image (none is in use) and
		// all the build cache, which in BuildKit holds the cache mounts
		{"prune -a", PruneOptions{Images: PruneAllImages, Cache: true, Mounts: true}},
	}
}

// ImageUsage is one image's share of the store.
type ImageUsage struct {
	Record
	// Dangling is set for an image with no name.
	Dangling bool
	// Blobs is the size of its manifest, config and layers.
	Blobs int64
	// Shared is the part of Blobs other images need too.
	Shared int64
	// Unique is the part of Blobs only this image needs.
	Unique int64
}

// CacheUsage is one build cache record.
type CacheUsage struct {
	Key     string
	Created time.Time
	// Size is the size of the blobs the record needs.
	Size int64
	// InUse is set when an image needs one of those blobs.
	InUse bool
}

// MountUsage is one cache mount directory.
type MountUsage struct {
	ID       string
	Size     int64
	Modified time.Time
}

// LayerUsage counts the distinct layer blobs of the images.
type LayerUsage struct {
	Count, SharedCount, UniqueCount int
	Size, SharedSize, UniqueSize    int64
}

// blobUse is which images use which blobs.
type blobUse struct {
	perImage [][]v1.Hash      // each image's distinct blobs: manifest, config, layers
	users    map[v1.Hash]int  // images that need a blob
	layer    map[v1.Hash]bool // the blob is a layer
}

// imageBlobs reads the manifests of recs and counts their blobs' users.
func (s *Store) imageBlobs(ctx context.Context, recs []Record, descs map[v1.Hash]v1.Descriptor) (*blobUse, error) {
	bu := &blobUse{perImage: make([][]v1.Hash, len(recs)), users: map[v1.Hash]int{},
		layer: map[v1.Hash]bool{}}
	for i, r := range recs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img := &storeImage{s: s, desc: descs[r.Manifest]}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("measuring image %s: %w", r.ID, err)
		}
		seen := map[v1.Hash]bool{r.Manifest: true, m.Config.Digest: true}
		list := []v1.Hash{r.Manifest, m.Config.Digest}
		for _, l := range m.Layers {
			bu.layer[l.Digest] = true
			if !seen[l.Digest] {
				seen[l.Digest] = true
				list = append(list, l.Digest)
			}
		}
		bu.perImage[i] = list
		for _, h := range list {
			bu.users[h]++
		}
	}
	return bu, nil
}

// Usage measures the store.
func (s *Store) Usage(ctx context.Context) (*Usage, error) {
	unlock, err := s.lockShared()
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	recs, descs, err := s.records(idx)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Created.After(recs[j].Created) })
	u := &Usage{}
	sizes := map[v1.Hash]int64{}
	size := func(h v1.Hash) int64 {
		if n, ok := sizes[h]; ok {
			return n
		}
		n, _ := s.BlobSize(h) // a missing blob counts as 0
		sizes[h] = n
		return n
	}
	bu, err := s.imageBlobs(ctx, recs, descs)
	if err != nil {
		return nil, err
	}
	imgBlobs, users, layerBlob := bu.perImage, bu.users, bu.layer
	crecs, err := s.CacheRecords()
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		iu := ImageUsage{Record: r, Dangling: len(r.Names) == 0}
		for _, h := range imgBlobs[i] {
			n := size(h)
			iu.Blobs += n
			if users[h] > 1 {
				iu.Shared += n
			} else {
				iu.Unique += n
			}
		}
		u.Images = append(u.Images, iu)
	}
	for h := range users {
		n := size(h)
		if layerBlob[h] {
			u.Layers.Count++
			u.Layers.Size += n
			if users[h] > 1 {
				u.Layers.SharedCount++
				u.Layers.SharedSize += n
			} else {
				u.Layers.UniqueCount++
				u.Layers.UniqueSize += n
			}
		}
	}
	for _, c := range crecs {
		cu := CacheUsage{Key: c.Key, Created: c.Created}
		for _, h := range c.Blobs {
			cu.Size += size(h)
			if users[h] > 0 {
				cu.InUse = true
			}
		}
		u.Cache = append(u.Cache, cu)
	}
	mounts, err := s.cacheMounts()
	if err != nil {
		return nil, err
	}
	u.CacheMounts = mounts
	if err := s.diskUsage(ctx, u, idx, crecs); err != nil {
		return nil, err
	}
	return u, nil
}

// diskUsage fills u.Disk and u.Reclaimable.
func (s *Store) diskUsage(ctx context.Context, u *Usage, idx *v1.IndexManifest, crecs []CacheRecord) error {
	dm, err := s.measureDisk(ctx)
	if err != nil {
		return fmt.Errorf("measuring the store: %w", err)
	}
	imgBlobs, imgChains, err := s.rootsOf(idx.Manifests, nil)
	if err != nil {
		return err
	}
	allBlobs, allChains, err := s.rootsOf(idx.Manifests, crecs)
	if err != nil {
		return err
	}
	d := &u.Disk
	d.Total = dm.total
	dm.byUnit(func(un unit, n int64) {
		switch un.kind {
		case unitMeta:
			d.Metadata += n
		case unitTemp:
			d.Temp += n
		case unitCache, unitHashes:
			d.BuildCache += n
		case unitMount:
			d.CacheMounts += n
		case unitBlob, unitSize:
			d.add(n, imgBlobs[un.name], allBlobs[un.name])
		case unitLayer:
			d.add(n, imgChains[un.name], allChains[un.name])
		}
	})
	now := time.Now()
	if u.Garbage, err = s.wouldFree(dm, idx, crecs, PruneOptions{Now: now}); err != nil {
		return err
	}
	for _, pc := range PruneCommands() {
		opts := pc.Options
		opts.Now = now
		n, err := s.wouldFree(dm, idx, crecs, opts)
		if err != nil {
			return err
		}
		u.Reclaimable = append(u.Reclaimable, Reclaim{Command: pc.Command, Bytes: n})
	}
	return nil
}

// add counts n bytes of a blob or layer dir an image needs (image), or
// else a cache record (cache), or nothing.
func (d *DiskUsage) add(n int64, image, cache bool) {
	switch {
	case image:
		d.Images += n
	case cache:
		d.BuildCache += n
	default:
		d.Unreferenced += n
	}
}

// cacheMounts lists ROOT/cachemounts.
func (s *Store) cacheMounts() ([]MountUsage, error) {
	ents, err := os.ReadDir(s.path("cachemounts"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing cache mounts: %w", err)
	}
	var out []MountUsage
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		p := filepath.Join(s.path("cachemounts"), e.Name())
		out = append(out, MountUsage{ID: e.Name(), Size: diskUsage(p), Modified: latestMod(p, fi.ModTime())})
	}
	return out, nil
}

// latestMod returns the newest modification time under p (a cache mount is
// used when its files change, not its top directory).
func latestMod(p string, t time.Time) time.Time {
	filepath.Walk(p, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
		return nil
	})
	return t
}
