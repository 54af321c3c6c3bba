package squash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/store"
)

// ErrUnsupported is returned where layer directories cannot be merged
// (systems other than Linux).
var ErrUnsupported = errors.New("squash: squashing layers needs Linux")

// Options tells Image which layers to merge.
type Options struct {
	// From is the index of the first merged layer: layers 0..From-1 stay as
	// they are (and shared with the images that have them), From..end become
	// one layer. From 0 makes one layer of the whole image.
	From int
	// Created, when not zero, is the new image's creation time: a squash
	// makes a new image, as docker's own squash gives it its own time.
	// Zero keeps the image's.
	Created time.Time
}

// Result is a squashed image, stored as blobs but not named yet.
type Result struct {
	// Image is the squashed image; its blobs are in the store.
	Image v1.Image
	// Kept is the number of layers kept as they were.
	Kept int
	// Merged is the number of layers merged into one.
	Merged int
	// DiffID is the squashed layer's diff_id (and blob digest: it is stored
	// uncompressed), or the zero hash when the merged layers add nothing.
	DiffID v1.Hash
	// Size is the size in bytes of the squashed layer's tar.
	Size int64
	// Entries is the number of entries of the squashed layer, whiteouts
	// included.
	Entries int
}

// Image merges layers opts.From..end of img, an image of st, into one layer
// and returns the squashed image. The new layer's blob and its extracted
// directory are added to st; the config keeps everything but rootfs.diff_ids
// and the history's empty_layer marks. The caller names the image with
// st.WriteImage, and holds st.RLock until then so that GC leaves the new
// blob alone. When From is the number of layers there is nothing to merge,
// and img itself is returned.
func Image(ctx context.Context, st *store.Store, img v1.Image, opts Options) (*Result, error) {
	parts, err := store.ReadImageParts(img)
	if err != nil {
		return nil, fmt.Errorf("squash: %w", err)
	}
	cfg, m := parts.Config, parts.Manifest
	n := len(cfg.RootFS.DiffIDs)
	if opts.From < 0 || opts.From > n {
		return nil, fmt.Errorf("squash: cannot keep %d layers: the image has %d", opts.From, n)
	}
	if opts.From == n {
		return &Result{Image: img, Kept: n}, nil
	}
	dirs, err := st.LayerDirs(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("extracting the layers: %w", err)
	}
	lower := make([]string, 0, opts.From)
	for _, d := range dirs[:opts.From] {
		lower = append(lower, d.Path)
	}
	upper := make([]string, 0, n-opts.From)
	for _, d := range dirs[opts.From:] {
		upper = append(upper, d.Path)
	}
	tmp, err := st.TempDir("squash-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	merged := filepath.Join(tmp, "diff")
	if err := os.Mkdir(merged, 0o755); err != nil {
		return nil, fmt.Errorf("squash: %w", err)
	}
	stats, err := Merge(ctx, merged, MergeOptions{Lower: lower, Upper: upper})
	if err != nil {
		return nil, fmt.Errorf("squash: %w", err)
	}
	res := &Result{Kept: opts.From, Merged: n - opts.From, Entries: stats.Entries}
	diffIDs := append([]v1.Hash(nil), cfg.RootFS.DiffIDs[:opts.From]...)
	descs := append([]v1.Descriptor(nil), m.Layers[:opts.From]...)
	if stats.Entries > 0 {
		h, size, err := st.WriteLayerBlob(ctx, merged, layer.WriteOptions{Format: layer.DiffFormat}, nil)
		if err != nil {
			return nil, fmt.Errorf("squash: %w", err)
		}
		diffIDs = append(diffIDs, h)
		chains := store.ChainIDs(diffIDs)
		// Its files are hard links into layer dirs that may not be synced yet.
		if _, err := st.AddUnsyncedLayerDir(chains[len(chains)-1], h, merged); err != nil {
			return nil, fmt.Errorf("squash: keeping the layer's files: %w", err)
		}
		descs = append(descs, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Size: size, Digest: h})
		res.DiffID, res.Size = h, size
	}
	nc := cfg.DeepCopy()
	nc.RootFS.DiffIDs = diffIDs
	if !opts.Created.IsZero() && res.Merged > 0 {
		nc.Created = v1.Time{Time: opts.Created.UTC()}
	}
	nc.History, err = History(cfg.History, opts.From, n, stats.Entries > 0)
	if err != nil {
		return nil, err
	}
	// The kept layers read from the original image when the store lacks them.
	res.Image, err = st.NewImage(nc, descs, store.NewImageOptions{
		Missing: func(h v1.Hash) (partial.CompressedLayer, error) { return img.LayerByDigest(h) },
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// History returns the history of an image whose layers from..layers-1 were
// squashed: every entry is kept, and the entries of the merged layers are
// marked empty_layer, all but the last one that had a layer (when the
// squash made one: hasLayer). An empty history stays empty. A history whose
// entries with layers do not match the layers can only be squashed whole
// (from 0): then every entry but the last is marked empty_layer.
func History(h []v1.History, from, layers int, hasLayer bool) ([]v1.History, error) {
	if len(h) == 0 {
		return nil, nil
	}
	out := append([]v1.History(nil), h...)
	withLayer := 0
	for _, e := range h {
		if !e.EmptyLayer {
			withLayer++
		}
	}
	start := 0 // first entry of the merged layers
	last := -1 // the entry that keeps the squashed layer
	switch {
	case withLayer == layers:
		seen := 0
		start = len(out)
		for i, e := range out {
			if e.EmptyLayer {
				continue
			}
			if seen == from && start == len(out) {
				start = i
			}
			seen++
			last = i
		}
	case from == 0:
		last = len(out) - 1
	default:
		return nil, fmt.Errorf("squash: the image's history has %d entries with a layer for %d layers, so which entries belong to the kept layers is unknown: squash all layers instead", withLayer, layers)
	}
	for i := start; i < len(out); i++ {
		out[i].EmptyLayer = !(hasLayer && i == last)
	}
	return out, nil
}
