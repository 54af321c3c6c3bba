package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImageParts are what every reader of an image needs: its manifest, its
// config and its layers, with one diff_id in the config per layer.
type ImageParts struct {
	Manifest *v1.Manifest
	Config   *v1.ConfigFile
	Layers   []v1.Layer
}

// ReadImageParts reads img's manifest, config and layers and checks that the
// config has one diff_id per layer of the manifest.
func ReadImageParts(img v1.Image) (*ImageParts, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	if err := checkDiffIDs(len(m.Layers), cfg); err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	if len(layers) != len(m.Layers) {
		return nil, fmt.Errorf("image has %d layers but its manifest lists %d", len(layers), len(m.Layers))
	}
	return &ImageParts{Manifest: m, Config: cfg, Layers: layers}, nil
}

func checkDiffIDs(layers int, cfg *v1.ConfigFile) error {
	if n := len(cfg.RootFS.DiffIDs); n != layers {
		return fmt.Errorf("image has %d layers but %d diff_ids", layers, n)
	}
	return nil
}

// NewImageOptions are the choices of NewImage.
type NewImageOptions struct {
	// Missing gives a layer whose blob the store lacks, such as a kept layer
	// of the image a squash started from; when nil, such a layer is an error
	// when read.
	Missing func(v1.Hash) (partial.CompressedLayer, error)
	// RawConfig, when set, is cfg as the image holds it (cfg with fields
	// v1.ConfigFile lacks, such as Healthcheck.StartInterval); cfg then
	// only gives the diff_ids.
	RawConfig []byte
}

// NewImage assembles an OCI image of cfg and the stored layer blobs layers
// (their manifest descriptors, bottom first), whose diff_ids are the
// config's: one per layer, checked here. The image is not stored: WriteImage
// does that.
func (s *Store) NewImage(cfg *v1.ConfigFile, layers []v1.Descriptor, opts NewImageOptions) (v1.Image, error) {
	if err := checkDiffIDs(len(layers), cfg); err != nil {
		return nil, err
	}
	rawCfg := opts.RawConfig
	if rawCfg == nil {
		var err error
		if rawCfg, err = json.Marshal(cfg); err != nil {
			return nil, fmt.Errorf("encoding the image config: %w", err)
		}
	}
	cfgDigest, cfgSize, err := v1.SHA256(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: cfgSize, Digest: cfgDigest},
		Layers:        layers,
	}
	rawManifest, err := json.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("encoding the manifest: %w", err)
	}
	return partial.CompressedToImage(&newImage{s: s, manifest: rawManifest, config: rawCfg, cfgDigest: cfgDigest,
		layers: layers, diffIDs: cfg.RootFS.DiffIDs, missing: opts.Missing})
}

// Layer returns the stored blob desc as a layer whose diff_id is diffID.
func (s *Store) Layer(desc v1.Descriptor, diffID v1.Hash) (v1.Layer, error) {
	return partial.CompressedToLayer(&storeLayerWithDiffID{storeLayer: &storeLayer{s: s, desc: desc}, diffID: diffID})
}

// newImage is a partial.CompressedImageCore for an image NewImage assembles.
type newImage struct {
	s         *Store
	manifest  []byte
	config    []byte
	cfgDigest v1.Hash
	layers    []v1.Descriptor
	diffIDs   []v1.Hash
	missing   func(v1.Hash) (partial.CompressedLayer, error)
}

var _ partial.CompressedImageCore = (*newImage)(nil)

// RawConfigFile implements partial.CompressedImageCore.
func (i *newImage) RawConfigFile() ([]byte, error) { return i.config, nil }

// MediaType implements partial.CompressedImageCore.
func (i *newImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// RawManifest implements partial.CompressedImageCore.
func (i *newImage) RawManifest() ([]byte, error) { return i.manifest, nil }

// LayerByDigest implements partial.CompressedImageCore.
func (i *newImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.cfgDigest {
		return partial.ConfigLayer(i)
	}
	for n, d := range i.layers {
		if d.Digest != h {
			continue
		}
		if i.missing != nil && !i.s.HasBlob(h) {
			return i.missing(h)
		}
		return &storeLayerWithDiffID{storeLayer: &storeLayer{s: i.s, desc: d}, diffID: i.diffIDs[n]}, nil
	}
	return nil, notFound("the image has no layer %s", h)
}
