package solver

import (
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/store"
)

// COPY --link and ADD --link make their layer on an empty root, so that it
// does not depend on the files of the layers below (the destination's
// directories are plain directories in it, and a symlink below is not
// followed), and is applied on top of them as any layer is. The layer is
// also kept under a key without the state below (linkKey): a later build
// whose earlier steps changed reuses it without copying again, as
// BuildKit's merge of --link layers does.

// linkKey returns the key of a --link layer: the step's key parts without
// the key of the state below (the first part).
func linkKey(keyParts []string) string {
	return hashKey(append([]string{"link"}, keyParts[1:]...)...)
}

// reuseLinked adds the --link layer recorded under lk, when the store
// still has its blob, as the step of key; it reports whether it did.
func (sr *stageRun) reuseLinked(lk, key, createdBy string) (bool, error) {
	if sr.noCache {
		return false, nil
	}
	rec, ok, err := sr.b.st.GetCache(lk)
	if err != nil || !ok {
		return false, err
	}
	var d cacheData
	if err := json.Unmarshal(rec.Data, &d); err != nil || d.Layer == nil {
		return false, nil // an unreadable record is a miss
	}
	if !sr.b.st.HasBlob(d.Layer.Blob) {
		return false, nil
	}
	sr.s.addLayer(*d.Layer, nil)
	sr.s.history(createdBy, false, sr.b.now())
	sr.s.key = key
	return true, sr.remember(key, d.Layer)
}

// keepLinked records the layer the step just added under lk, when its
// blob is in the store (a layer without one cannot be reused elsewhere).
func (sr *stageRun) keepLinked(lk string) error {
	l := sr.s.layers[len(sr.s.layers)-1]
	if !sr.b.st.HasBlob(l.Blob) {
		return nil
	}
	data, err := json.Marshal(cacheData{Layer: &l})
	if err != nil {
		return err
	}
	return sr.b.st.PutCache(store.CacheRecord{Key: lk, Created: time.Now().UTC(), Data: data, Blobs: []v1.Hash{l.Blob}})
}
