package imgdiff

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/store"
)

// Usage is how much of an image's size it shares with other images of the
// store. A layer blob is stored, and pulled, once per host, however many
// images use it.
type Usage struct {
	// Size is the image's size: the sum of its layers' uncompressed sizes.
	Size int64 `json:"size"`
	// SharedSize is the size of the layers that other images use too.
	SharedSize int64 `json:"sharedSize"`
	// UniqueSize is the size of the layers only this image uses.
	UniqueSize int64 `json:"uniqueSize"`
	// Layers is the number of layers; SharedLayers how many are shared.
	Layers       int `json:"layers"`
	SharedLayers int `json:"sharedLayers"`
}

// Sharing returns the Usage of every image of st, by manifest digest (the
// Record's Manifest). Layers are the same when their blobs are (same
// digest), as the store keeps each blob once.
func Sharing(st *store.Store) (map[v1.Hash]Usage, error) {
	recs, err := st.Images()
	if err != nil {
		return nil, err
	}
	layers := make(map[v1.Hash][]v1.Descriptor, len(recs))
	users := map[v1.Hash]int{} // blob → number of images using it
	for _, r := range recs {
		if _, ok := layers[r.Manifest]; ok {
			continue
		}
		img, _, err := st.Image(r.ID.String())
		if err != nil {
			return nil, fmt.Errorf("reading image %s: %w", r.ID, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading the manifest of %s: %w", r.ID, err)
		}
		layers[r.Manifest] = m.Layers
		seen := map[v1.Hash]bool{}
		for _, d := range m.Layers {
			if !seen[d.Digest] {
				seen[d.Digest] = true
				users[d.Digest]++
			}
		}
	}
	out := make(map[v1.Hash]Usage, len(layers))
	for mf, descs := range layers {
		var u Usage
		for _, d := range descs {
			n, err := st.LayerContentSize(d) // as docker counts shared size
			if err != nil {
				return nil, fmt.Errorf("sizing layer %s: %w", d.Digest, err)
			}
			u.Size += n
			u.Layers++
			if users[d.Digest] > 1 {
				u.SharedSize += n
				u.SharedLayers++
			} else {
				u.UniqueSize += n
			}
		}
		out[mf] = u
	}
	return out, nil
}
