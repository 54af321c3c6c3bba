package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/store"
)

// layerInfo is one layer of a state: a blob in the store.
type layerInfo struct {
	Blob      v1.Hash         `json:"blob"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"mediaType"`
	DiffID    v1.Hash         `json:"diffID"`
}

// state is a stage's image as it is being built.
type state struct {
	layers []layerInfo
	cfg    v1.ConfigFile
	key    string // cache key of this state
	dirs   []store.LayerDir
	// startInterval is the config's Healthcheck.StartInterval, which
	// v1.HealthConfig lacks (healthcheck.go).
	startInterval time.Duration
}

func (s *state) clone() *state {
	c := &state{layers: append([]layerInfo(nil), s.layers...), key: s.key, dirs: s.dirs, startInterval: s.startInterval}
	raw, _ := json.Marshal(&s.cfg)
	_ = json.Unmarshal(raw, &c.cfg)
	return c
}

// addLayer appends a layer and its history entry.
func (s *state) addLayer(l layerInfo, dir *store.LayerDir) {
	s.layers = append(s.layers, l)
	s.cfg.RootFS.DiffIDs = append(s.cfg.RootFS.DiffIDs, l.DiffID)
	if dir != nil && len(s.dirs) == len(s.layers)-1 {
		s.dirs = append(append([]store.LayerDir(nil), s.dirs...), *dir)
	} else {
		s.dirs = nil
	}
}

// history appends a history entry.
func (s *state) history(createdBy string, empty bool, t time.Time) {
	s.cfg.History = append(s.cfg.History, v1.History{
		Created:    v1.Time{Time: t},
		CreatedBy:  createdBy,
		Comment:    "buildkit.dockerfile.v0",
		EmptyLayer: empty,
	})
}

// chain returns the chain id of the top layer, or the zero hash.
func (s *state) chain() v1.Hash {
	ids := store.ChainIDs(s.cfg.RootFS.DiffIDs)
	if len(ids) == 0 {
		return v1.Hash{}
	}
	return ids[len(ids)-1]
}

// lowerDirs returns the state's layer dirs, top first (overlay order),
// extracting layers the store has not extracted yet.
func (b *builder) lowerDirs(ctx context.Context, s *state) ([]string, error) {
	if s.dirs == nil || len(s.dirs) != len(s.layers) {
		if len(s.layers) == 0 {
			s.dirs = []store.LayerDir{}
		} else {
			img, err := s.image(b.st)
			if err != nil {
				return nil, err
			}
			dirs, err := b.st.LayerDirs(ctx, img)
			if err != nil {
				return nil, fmt.Errorf("extracting layers: %w", err)
			}
			s.dirs = dirs
		}
	}
	out := make([]string, len(s.dirs))
	for i, d := range s.dirs {
		out[len(s.dirs)-1-i] = d.Path
	}
	return out, nil
}

// manifest returns the OCI manifest of the state.
func (s *state) manifest() (*v1.Manifest, []byte, error) {
	cfg, err := s.configJSON()
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(cfg)
	m := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{
			MediaType: types.OCIConfigJSON,
			Size:      int64(len(cfg)),
			Digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		},
	}
	for _, l := range s.layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.MediaType, Size: l.Size, Digest: l.Blob})
	}
	return m, cfg, nil
}

// image returns the state as a v1.Image whose layers read from the store.
func (s *state) image(st *store.Store) (v1.Image, error) {
	m, cfg, err := s.manifest()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&storeImage{st: st, manifest: raw, config: cfg, layers: s.layers})
}

// storeImage is a partial.CompressedImageCore over blobs in the store.
type storeImage struct {
	st       *store.Store
	manifest []byte
	config   []byte
	layers   []layerInfo
}

func (i *storeImage) RawConfigFile() ([]byte, error) { return i.config, nil }
func (i *storeImage) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}
func (i *storeImage) RawManifest() ([]byte, error) { return i.manifest, nil }
func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.layers {
		if l.Blob == h {
			return &storeLayer{st: i.st, l: l}, nil
		}
	}
	if h.String() == digestOf(i.config).String() {
		return &configLayer{b: i.config}, nil
	}
	return nil, fmt.Errorf("layer %s is not in this image", h)
}

type storeLayer struct {
	st *store.Store
	l  layerInfo
}

func (l *storeLayer) Digest() (v1.Hash, error)            { return l.l.Blob, nil }
func (l *storeLayer) Compressed() (io.ReadCloser, error)  { return l.st.OpenBlob(l.l.Blob) }
func (l *storeLayer) Size() (int64, error)                { return l.l.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.l.MediaType, nil }
func (l *storeLayer) DiffID() (v1.Hash, error)            { return l.l.DiffID, nil }

type configLayer struct{ b []byte }

func (c *configLayer) Digest() (v1.Hash, error) { return digestOf(c.b), nil }
func (c *configLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(c.b)), nil
}
func (c *configLayer) Size() (int64, error) { return int64(len(c.b)), nil }
func (c *configLayer) MediaType() (types.MediaType, error) {
	return types.OCIConfigJSON, nil
}

func digestOf(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// stateFromImage loads a stored image as the start of a stage.
func stateFromImage(img v1.Image) (*state, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("the image has %d layers but %d diff_ids", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	s := &state{cfg: *cfg.DeepCopy()}
	if raw, err := img.RawConfigFile(); err == nil {
		s.startInterval = startIntervalOf(raw)
	}
	for i, l := range m.Layers {
		s.layers = append(s.layers, layerInfo{Blob: l.Digest, Size: l.Size, MediaType: l.MediaType, DiffID: cfg.RootFS.DiffIDs[i]})
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	s.key = hashKey("from-image", id.String())
	return s, nil
}

// hashKey makes a cache key from parts.
func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
