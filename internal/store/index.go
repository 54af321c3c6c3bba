package store

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations on the manifest descriptors of index.json.
const (
	annotRefName = "org.opencontainers.image.ref.name"
	annotID      = "io.strata.id"
	annotSize    = "io.strata.content-size" // docker's image size; io.strata.size was the tars'
	annotCreated = "io.strata.created"
)

// Record describes one image (one manifest) of the store.
type Record struct {
	Names    []string  // normalised names pointing at this manifest, sorted
	Manifest v1.Hash   // manifest digest
	ID       v1.Hash   // config digest: the image ID, as docker shows it
	Created  time.Time // creation time from the config
	Size     int64     // sum of the uncompressed layer sizes
}

func (s *Store) readIndex() (*v1.IndexManifest, error) {
	f, err := os.Open(s.path("index.json"))
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	defer f.Close()
	idx, err := v1.ParseIndexManifest(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path("index.json"), err)
	}
	return idx, nil
}

// updateIndex runs fn on index.json under ROOT/index.lock and writes the
// result back atomically when fn returns nil.
func (s *Store) updateIndex(fn func(idx *v1.IndexManifest) error) error {
	unlock, err := s.lockIndex()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(idx); err != nil {
		return err
	}
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	if idx.MediaType == "" {
		idx.MediaType = types.OCIImageIndex
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("encoding index.json: %w", err)
	}
	if err := s.writeFileAtomic(s.path("index.json"), b); err != nil {
		return fmt.Errorf("writing index.json: %w", err)
	}
	return nil
}

// removeName drops every descriptor carrying name and reports whether one did.
func removeName(idx *v1.IndexManifest, name string) bool {
	kept := idx.Manifests[:0]
	found := false
	for _, d := range idx.Manifests {
		if d.Annotations[annotRefName] == name {
			found = true
			continue
		}
		kept = append(kept, d)
	}
	idx.Manifests = kept
	return found
}

// setName points name at the manifest described by desc.
func setName(idx *v1.IndexManifest, desc v1.Descriptor, name string) {
	removeName(idx, name)
	removeUnnamed(idx, desc.Digest)
	d := desc
	d.Annotations = map[string]string{}
	for k, v := range desc.Annotations {
		d.Annotations[k] = v
	}
	d.Annotations[annotRefName] = name
	idx.Manifests = append(idx.Manifests, d)
}

// records groups the named descriptors of idx by manifest digest, in index
// order. Metadata missing from the annotations (a descriptor written by
// another tool) is read from the blobs.
func (s *Store) records(idx *v1.IndexManifest) ([]Record, map[v1.Hash]v1.Descriptor, error) {
	var recs []Record
	descs := map[v1.Hash]v1.Descriptor{}
	pos := map[v1.Hash]int{}
	for _, d := range idx.Manifests {
		if !d.MediaType.IsImage() {
			continue // strata stores images only; other tools' indexes are left alone
		}
		i, ok := pos[d.Digest]
		if !ok {
			rec, err := s.recordFor(d)
			if err != nil {
				return nil, nil, err
			}
			i = len(recs)
			pos[d.Digest] = i
			descs[d.Digest] = d
			recs = append(recs, rec)
		}
		if n := d.Annotations[annotRefName]; n != "" {
			recs[i].Names = append(recs[i].Names, n)
		}
	}
	for i := range recs {
		sort.Strings(recs[i].Names)
	}
	return recs, descs, nil
}

func (s *Store) recordFor(d v1.Descriptor) (Record, error) {
	rec := Record{Manifest: d.Digest}
	id, err1 := v1.NewHash(d.Annotations[annotID])
	size, err2 := strconv.ParseInt(d.Annotations[annotSize], 10, 64)
	created, err3 := time.Parse(time.RFC3339Nano, d.Annotations[annotCreated])
	if err1 == nil && err2 == nil && err3 == nil {
		rec.ID, rec.Size, rec.Created = id, size, created
		return rec, nil
	}
	meta, err := s.imageMeta(d.Digest)
	if err != nil {
		return Record{}, fmt.Errorf("reading image %s: %w", d.Digest, err)
	}
	rec.ID, rec.Size, rec.Created = meta.id, meta.size, meta.created
	return rec, nil
}

// Images lists the store's images, one Record per manifest with its names
// grouped, newest first.
func (s *Store) Images() ([]Record, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	recs, _, err := s.records(idx)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].Created.Equal(recs[j].Created) {
			return recs[i].Created.After(recs[j].Created)
		}
		return firstName(recs[i]) < firstName(recs[j])
	})
	return recs, nil
}

func firstName(r Record) string {
	if len(r.Names) == 0 {
		return ""
	}
	return r.Names[0]
}

// removeUnnamed drops the dangling (nameless) descriptors of a manifest.
func removeUnnamed(idx *v1.IndexManifest, digest v1.Hash) {
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if d.Digest == digest && d.Annotations[annotRefName] == "" {
			continue
		}
		kept = append(kept, d)
	}
	idx.Manifests = kept
}
