package store

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// unitKind is what an entry under the store root belongs to.
type unitKind int

const (
	unitMeta   unitKind = iota // index.json, oci-layout, locks, the store's own directories
	unitBlob                   // blobs/sha256/<hex>
	unitLayer                  // layers/<chain hex>/…
	unitCache                  // cache/<key>.json
	unitMount                  // cachemounts/<id>/…
	unitTemp                   // tmp/<name>/…
	unitSize                   // sizes/<hex>, content-sizes/<hex>, unsynced-blobs/<hex>: kept with blob <hex>
	unitHashes                 // context-hashes/<name>: a build context's file hashes
)

// unit is one thing GC or prune removes as a whole.
type unit struct {
	kind unitKind
	name string
}

// inodeKey identifies a file, so that hard links are counted once.
type inodeKey struct{ dev, ino uint64 }

// inodeUse is one inode under the root: its apparent size and the units
// its names belong to.
type inodeUse struct {
	size  int64
	units []unit
}

// diskMap is every inode under the store root, as `du -sb --apparent-size`
// counts them: each inode once (hard links once), its st_size (a
// directory's own size too, a symlink's target length, a device 0).
type diskMap struct {
	inodes map[inodeKey]*inodeUse
	// first is the unit each inode was first seen under (so that every
	// byte belongs to exactly one category).
	first map[inodeKey]unit
	// tempMod is the modification time of each tmp/ entry (GC removes the
	// stale ones).
	tempMod map[string]time.Time
	total   int64
}

// classify tells which unit the slash-separated path rel (relative to the
// root) belongs to.
func classify(rel string) unit {
	parts := strings.SplitN(rel, "/", 4)
	switch {
	case len(parts) == 3 && parts[0] == "blobs" && parts[1] == "sha256":
		return unit{unitBlob, parts[2]}
	case len(parts) >= 2 && parts[0] == "layers":
		return unit{unitLayer, parts[1]}
	case len(parts) == 2 && parts[0] == "cache" && strings.HasSuffix(parts[1], ".json"):
		return unit{unitCache, strings.TrimSuffix(parts[1], ".json")}
	case len(parts) >= 2 && parts[0] == "cachemounts":
		return unit{unitMount, parts[1]}
	case len(parts) >= 2 && parts[0] == "tmp":
		return unit{unitTemp, parts[1]}
	case len(parts) == 2 && (parts[0] == "sizes" || parts[0] == "content-sizes" || parts[0] == unsyncedBlobs):
		return unit{unitSize, parts[1]}
	case len(parts) == 2 && parts[0] == "context-hashes":
		return unit{unitHashes, parts[1]}
	}
	return unit{kind: unitMeta}
}

// measureDisk walks the whole store root.
func (s *Store) measureDisk(ctx context.Context) (*diskMap, error) {
	dm := &diskMap{inodes: map[inodeKey]*inodeUse{}, first: map[inodeKey]unit{}, tempMod: map[string]time.Time{}}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while we walked: a concurrent build's temp file
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		rel = filepath.ToSlash(rel)
		u := classify(rel)
		if u.kind == unitTemp && !strings.Contains(rel[len("tmp/"):], "/") {
			dm.tempMod[u.name] = fi.ModTime()
		}
		dm.add(inodeOf(fi, p), fi.Size(), u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dm, nil
}

func (dm *diskMap) add(k inodeKey, size int64, u unit) {
	iu, ok := dm.inodes[k]
	if !ok {
		iu = &inodeUse{size: size}
		dm.inodes[k] = iu
		dm.first[k] = u
		dm.total += size
	}
	for _, have := range iu.units {
		if have == u {
			return
		}
	}
	iu.units = append(iu.units, u)
}

// freed is the bytes that removing the units gone accepts would free: the
// inodes all of whose names are in such units.
func (dm *diskMap) freed(gone func(unit) bool) int64 {
	var n int64
	for _, iu := range dm.inodes {
		all := len(iu.units) > 0
		for _, u := range iu.units {
			if u.kind == unitMeta || !gone(u) {
				all = false
				break
			}
		}
		if all {
			n += iu.size
		}
	}
	return n
}

// byKind sums the inodes by the kind of the unit each was first seen in.
func (dm *diskMap) byUnit(fn func(u unit, size int64)) {
	for k, iu := range dm.inodes {
		fn(dm.first[k], iu.size)
	}
}

// unitPath is where unit u lives (for a size unit, its sizes/ entry).
func (s *Store) unitPath(u unit) []string {
	switch u.kind {
	case unitBlob:
		return []string{s.path("blobs", "sha256", u.name)}
	case unitLayer:
		return []string{s.path("layers", u.name)}
	case unitCache:
		return []string{s.path("cache", u.name+".json")}
	case unitMount:
		return []string{s.path("cachemounts", u.name)}
	case unitTemp:
		return []string{s.path("tmp", u.name)}
	case unitSize:
		return []string{s.path("sizes", u.name), s.path("content-sizes", u.name), s.path(unsyncedBlobs, u.name)}
	case unitHashes:
		return []string{s.path("context-hashes", u.name)}
	}
	return nil
}

// goneSince reports the units of dm that no longer exist on disk.
func (s *Store) goneSince(dm *diskMap) func(unit) bool {
	memo := map[unit]bool{}
	return func(u unit) bool {
		if g, ok := memo[u]; ok {
			return g
		}
		g := u.kind != unitMeta
		for _, p := range s.unitPath(u) {
			if _, err := os.Lstat(p); err == nil {
				g = false
			}
		}
		memo[u] = g
		return g
	}
}
