package cacheio

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/store"
)

// ConfigMediaType is the media type of an exported cache's config.
const ConfigMediaType types.MediaType = "application/vnd.strata.cache.config.v1+json"

// config is an exported cache's config blob.
type config struct {
	// Builder is the strata version and platform that wrote the cache
	// (Options.Version and GOOS/GOARCH): a cache key means the same step
	// only to the same strata on the same platform, so Open refuses a cache
	// another one wrote.
	Builder string `json:"builder"`
	// Records are the cache records, as the exporting store held them.
	Records []store.CacheRecord `json:"records"`
	// Blobs name, for each layer of the manifest in order, the blob the
	// store holds.
	Blobs []blobEntry `json:"blobs"`
	// Mounts are the RUN --mount=type=cache directories (cache-mounts=true),
	// the manifest's layers after the blobs' ones.
	Mounts []mountEntry `json:"mounts,omitempty"`
}

// blobEntry is one layer of an exported cache.
type blobEntry struct {
	// Digest is the blob's digest in the store.
	Digest v1.Hash `json:"digest"`
	// Plain is set when the store holds the blob uncompressed and the
	// layer is its gzip: importing decompresses it back.
	Plain bool `json:"plain,omitempty"`
}

// cacheImage is an exported cache as a go-containerregistry image, so that
// remote.Write and layout.Write can carry it.
type cacheImage struct {
	manifest []byte
	config   []byte
	layers   map[v1.Hash]*fileLayer // by digest
}

var _ partial.CompressedImageCore = (*cacheImage)(nil)

// RawConfigFile implements partial.CompressedImageCore.
func (i *cacheImage) RawConfigFile() ([]byte, error) { return i.config, nil }

// MediaType implements partial.CompressedImageCore.
func (i *cacheImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// RawManifest implements partial.CompressedImageCore.
func (i *cacheImage) RawManifest() ([]byte, error) { return i.manifest, nil }

// LayerByDigest implements partial.CompressedImageCore.
func (i *cacheImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	if h == digestOf(i.config) {
		return &bytesLayer{b: i.config, mt: ConfigMediaType}, nil
	}
	return nil, os.ErrNotExist
}

// fileLayer is a layer read from a file (a compressed temp file, or a blob
// of the store shipped as it is).
type fileLayer struct {
	open      func() (io.ReadCloser, error)
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
}

var _ partial.CompressedLayer = (*fileLayer)(nil)

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return l.open() }

// bytesLayer is the config as a layer.
type bytesLayer struct {
	b  []byte
	mt types.MediaType
}

func (l *bytesLayer) Digest() (v1.Hash, error)            { return digestOf(l.b), nil }
func (l *bytesLayer) Size() (int64, error)                { return int64(len(l.b)), nil }
func (l *bytesLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *bytesLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}

func digestOf(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}
