package store

import (
	"fmt"
	"os"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/strata-build/strata/internal/layer"
)

// LayerSize returns the uncompressed size of the stored layer blob a
// manifest's descriptor names, from the sizes/ cache when it is there, else
// by reading the blob once.
func (s *Store) LayerSize(desc v1.Descriptor) (int64, error) {
	return s.layerDiffSize(desc)
}

// LayerContentSize returns the size docker shows for the stored layer a
// manifest's descriptor names: the bytes of its content, not of its tar
// (see layer.ContentSize), from the content-sizes/ cache when it is there.
func (s *Store) LayerContentSize(desc v1.Descriptor) (int64, error) {
	return s.layerContentSize(desc)
}

func (s *Store) layerContentSize(desc v1.Descriptor) (int64, error) {
	cache := s.path("content-sizes", desc.Digest.Hex)
	if b, err := os.ReadFile(cache); err == nil {
		if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return n, nil
		}
	}
	l, err := partial.CompressedToLayer(&storeLayer{s: s, desc: desc})
	if err != nil {
		return 0, err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, fmt.Errorf("reading layer %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	n, err := layer.ContentSize(rc)
	if err != nil {
		return 0, fmt.Errorf("sizing layer %s: %w", desc.Digest, err)
	}
	s.cacheSize("content-sizes", "csize-*", desc.Digest, n)
	return n, nil
}

// cacheSize records n as the size of the layer blob h in the cache dir
// (sizes/ or content-sizes/) through a temporary file named by pattern. The
// entries are a cache: a lost or torn one is recomputed.
func (s *Store) cacheSize(dir, pattern string, h v1.Hash, n int64) {
	if err := os.MkdirAll(s.path(dir), 0o755); err != nil { // a store opened before there was one
		return
	}
	if tmp, err := s.writeTemp(pattern, []byte(strconv.FormatInt(n, 10))); err == nil {
		if os.Rename(tmp, s.path(dir, h.Hex)) != nil {
			os.Remove(tmp)
		}
	}
}
