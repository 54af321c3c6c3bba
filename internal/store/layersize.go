package store

import v1 "github.com/google/go-containerregistry/pkg/v1"

// LayerSize returns the uncompressed size of the stored layer blob a
// manifest's descriptor names, from the sizes/ cache when it is there, else
// by reading the blob once.
func (s *Store) LayerSize(desc v1.Descriptor) (int64, error) {
	return s.layerDiffSize(desc)
}
