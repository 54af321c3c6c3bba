package solver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/store"
)

// layerInfo is one layer of a state: a blob in the store, or a lazy
// layer's dir.
type layerInfo struct {
	Blob      v1.Hash         `json:"blob"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"mediaType"`
	DiffID    v1.Hash         `json:"diffID"`
	// Lazy marks a layer kept as a layer dir only, never tarred: Blob and
	// DiffID are stand-ins (lazyLayer) until ensureBlobs resolves them.
	Lazy bool `json:"lazy,omitempty"`
}

// state is a stage's image as it is being built.
type state struct {
	layers []layerInfo
	cfg    v1.ConfigFile
	// key is the cache key of the state's filesystem: only steps that
	// make a layer change it (BuildKit's LLB state, not the image config).
	key  string
	dirs []store.LayerDir
	// runEnv is the environment the stage's steps saw at its end (the
	// image's Env and the ARG values in scope), which a stage built FROM
	// this one starts with.
	runEnv []string
	// startInterval is the config's Healthcheck.StartInterval, which
	// v1.HealthConfig lacks (healthcheck.go).
	startInterval time.Duration
}

func (s *state) clone() *state {
	c := &state{layers: append([]layerInfo(nil), s.layers...), key: s.key, dirs: s.dirs,
		runEnv: append([]string(nil), s.runEnv...), startInterval: s.startInterval}
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

// fillHistoryTimes stamps the entries that have no time yet (metadata-only
// ones) as BuildKit's image exporter does: with the time of the newest
// entry this stage made before them or, with none, of the first one it
// made after them (not a base image's time), or, with none at all, the
// base's last time. The first base entries of h are the stage's base.
// A rebuild from the cache thus gives the same config.
func fillHistoryTimes(h []v1.History, base int) {
	var first, last time.Time // stamped entries of the stage; the base's last
	for i, e := range h {
		if e.Created.IsZero() {
			continue
		}
		if i < base {
			last = e.Created.Time
		} else if first.IsZero() {
			first = e.Created.Time
		}
	}
	prev := first
	if prev.IsZero() {
		prev = last
	}
	for i := base; i < len(h); i++ {
		if h[i].Created.IsZero() {
			h[i].Created = v1.Time{Time: prev}
		} else {
			prev = h[i].Created.Time
		}
	}
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

// image returns the state as a v1.Image whose layers read from the store.
func (s *state) image(st *store.Store) (v1.Image, error) {
	descs := make([]v1.Descriptor, len(s.layers))
	for i, l := range s.layers {
		descs[i] = v1.Descriptor{MediaType: l.MediaType, Size: l.Size, Digest: l.Blob}
	}
	raw, err := s.configJSON()
	if err != nil {
		return nil, err
	}
	return st.NewImage(&s.cfg, descs, store.NewImageOptions{RawConfig: raw})
}

// stateFromImage loads a stored image as the start of a stage.
func stateFromImage(img v1.Image) (*state, error) {
	parts, err := store.ReadImageParts(img)
	if err != nil {
		return nil, err
	}
	cfg, m := parts.Config, parts.Manifest
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
