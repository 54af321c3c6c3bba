package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// staleTemp is the age after which GC removes an entry of tmp/.
const staleTemp = time.Hour

// GCStats counts what GC removed.
type GCStats struct {
	Blobs    int   // blobs deleted
	Layers   int   // layer dirs deleted
	Temp     int   // stale tmp/ entries deleted
	Bytes    int64 // bytes freed (blobs, layer dirs and tmp entries)
	Deferred bool  // another process held the store: nothing was collected
}

// GC deletes every blob, layer dir and stale (over an hour old) tmp entry
// that no image name and no cache record needs. It takes the store's lock
// exclusively without waiting: when some process holds the shared lock (a
// build), it collects nothing and returns GCStats{Deferred: true}.
func (s *Store) GC(ctx context.Context) (GCStats, error) {
	unlock, err := s.tryLockExclusive()
	if errors.Is(err, errWouldBlock) {
		return GCStats{Deferred: true}, nil
	}
	if err != nil {
		return GCStats{}, err
	}
	defer unlock()

	blobs, chains, err := s.roots()
	if err != nil {
		return GCStats{}, err
	}
	var st GCStats
	if err := s.sweepBlobs(ctx, blobs, &st); err != nil {
		return st, err
	}
	if err := s.sweepLayers(ctx, chains, &st); err != nil {
		return st, err
	}
	if err := s.sweepTemp(ctx, &st); err != nil {
		return st, err
	}
	return st, nil
}

// roots returns the blobs and chain ids (hex) that must be kept. A rooted
// manifest or config that cannot be read stops the collection: deleting
// around a damaged image could lose what is left of it.
func (s *Store) roots() (blobs, chains map[string]bool, err error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, nil, err
	}
	recs, err := s.CacheRecords()
	if err != nil {
		return nil, nil, err
	}
	return s.rootsOf(idx.Manifests, recs)
}

// rootsOf returns the blobs and chain ids (hex) that the index entries
// manifests and the cache records recs need.
func (s *Store) rootsOf(manifests []v1.Descriptor, recs []CacheRecord) (blobs, chains map[string]bool, err error) {
	blobs, chains = map[string]bool{}, map[string]bool{}
	var walk func(d v1.Descriptor) error
	walk = func(d v1.Descriptor) error {
		if blobs[d.Digest.Hex] {
			return nil
		}
		blobs[d.Digest.Hex] = true
		switch {
		case d.MediaType.IsIndex():
			b, err := s.readBlob(d.Digest)
			if err != nil {
				return err
			}
			im, err := v1.ParseIndexManifest(bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("reading index %s: %w", d.Digest, err)
			}
			for _, c := range im.Manifests {
				if err := walk(c); err != nil {
					return err
				}
			}
		case d.MediaType.IsImage():
			img := &storeImage{s: s, desc: d}
			m, err := img.Manifest()
			if err != nil {
				return err
			}
			blobs[m.Config.Digest.Hex] = true
			for _, l := range m.Layers {
				blobs[l.Digest.Hex] = true
			}
			cfg, err := img.configFile()
			if err != nil {
				return fmt.Errorf("reading config of %s: %w", d.Digest, err)
			}
			for _, c := range ChainIDs(cfg.RootFS.DiffIDs) {
				chains[c.Hex] = true
			}
		}
		return nil
	}
	for _, d := range manifests {
		if err := walk(d); err != nil {
			return nil, nil, fmt.Errorf("cannot collect garbage: image %s: %w", d.Digest, err)
		}
	}
	for _, r := range recs {
		for _, h := range r.Blobs {
			blobs[h.Hex] = true
		}
		for _, h := range r.Chains {
			chains[h.Hex] = true
		}
	}
	return blobs, chains, nil
}

// collects returns the units GC removes when blobs and chains are kept:
// other blobs with their size caches, other layer dirs, and tmp/ entries
// older than staleTemp at now.
func collects(blobs, chains map[string]bool, tempMod map[string]time.Time, now time.Time) func(unit) bool {
	cutoff := now.Add(-staleTemp)
	return func(u unit) bool {
		switch u.kind {
		case unitBlob, unitSize:
			return !blobs[u.name]
		case unitLayer:
			return !chains[u.name]
		case unitTemp:
			t, ok := tempMod[u.name]
			return ok && !t.After(cutoff)
		}
		return false
	}
}

func (s *Store) sweepBlobs(ctx context.Context, keep map[string]bool, st *GCStats) error {
	dir := s.path("blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing blobs: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		if keep[e.Name()] {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("deleting blob %s: %w", e.Name(), err)
		}
		st.Blobs++
		st.Bytes += fi.Size()
	}
	for _, dir := range []string{"sizes", "content-sizes", unsyncedBlobs} {
		ents, err = os.ReadDir(s.path(dir))
		if err != nil {
			return fmt.Errorf("listing %s: %w", dir, err)
		}
		for _, e := range ents {
			if !keep[e.Name()] {
				os.Remove(s.path(dir, e.Name()))
			}
		}
	}
	return nil
}

func (s *Store) sweepLayers(ctx context.Context, keep map[string]bool, st *GCStats) error {
	ents, err := os.ReadDir(s.path("layers"))
	if err != nil {
		return fmt.Errorf("listing layer dirs: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		if keep[e.Name()] {
			continue
		}
		p := s.path("layers", e.Name())
		n := diskUsage(p)
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("deleting layer dir %s: %w", e.Name(), err)
		}
		st.Layers++
		st.Bytes += n
	}
	return nil
}

func (s *Store) sweepTemp(ctx context.Context, st *GCStats) error {
	ents, err := os.ReadDir(s.path("tmp"))
	if err != nil {
		return fmt.Errorf("listing tmp: %w", err)
	}
	cutoff := time.Now().Add(-staleTemp)
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil || fi.ModTime().After(cutoff) {
			continue
		}
		p := s.path("tmp", e.Name())
		n := diskUsage(p)
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("deleting %s: %w", p, err)
		}
		st.Temp++
		st.Bytes += n
	}
	return nil
}

// diskUsage sums the sizes of the regular files under p.
func diskUsage(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
