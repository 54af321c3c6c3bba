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

// Usage is what the store holds, as `docker system df` shows it. Sizes are
// bytes of blobs as stored (layers built here are plain tars; pulled ones
// are as the registry sent them); cache mount sizes are the files in them.
type Usage struct {
	// Images are the store's images, newest first.
	Images []ImageUsage
	// Cache are the build cache records, by key.
	Cache []CacheUsage
	// CacheMounts are the RUN --mount=type=cache directories.
	CacheMounts []MountUsage
	// ImagesSize is the size of every blob some image needs.
	ImagesSize int64
	// ImagesReclaimable is what removing the dangling images would free:
	// their blobs that no named image and no cache record needs.
	ImagesReclaimable int64
	// CacheSize is the size of every blob some cache record needs.
	CacheSize int64
	// CacheReclaimable is what removing every cache record would free: its
	// blobs that no image needs.
	CacheReclaimable int64
	// MountsSize is the size of the cache mounts.
	MountsSize int64
	// Layers counts the layer blobs of the images.
	Layers LayerUsage
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
	named    map[v1.Hash]bool // a named image needs it
	layer    map[v1.Hash]bool // the blob is a layer
}

// imageBlobs reads the manifests of recs and counts their blobs' users.
func (s *Store) imageBlobs(ctx context.Context, recs []Record, descs map[v1.Hash]v1.Descriptor) (*blobUse, error) {
	bu := &blobUse{perImage: make([][]v1.Hash, len(recs)), users: map[v1.Hash]int{},
		named: map[v1.Hash]bool{}, layer: map[v1.Hash]bool{}}
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
			if len(r.Names) > 0 {
				bu.named[h] = true
			}
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
	imgBlobs, users, namedUse, layerBlob := bu.perImage, bu.users, bu.named, bu.layer
	cacheUse := map[v1.Hash]bool{}
	crecs, err := s.CacheRecords()
	if err != nil {
		return nil, err
	}
	for _, c := range crecs {
		for _, h := range c.Blobs {
			cacheUse[h] = true
		}
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
		u.ImagesSize += n
		if !namedUse[h] && !cacheUse[h] {
			u.ImagesReclaimable += n
		}
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
	for h := range cacheUse {
		n := size(h)
		u.CacheSize += n
		if users[h] == 0 {
			u.CacheReclaimable += n
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
	for _, m := range mounts {
		u.MountsSize += m.Size
	}
	u.CacheMounts = mounts
	return u, nil
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
