package analyze

import (
	"github.com/strata-build/strata/internal/layer"

	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// HistoryEntry is one entry of an image's history with the size of the layer
// it made, as `docker history` shows it.
type HistoryEntry struct {
	// ID is the image ID on the newest entry, "<missing>" on the others.
	ID         string `json:"Id"`
	Created    time.Time
	CreatedBy  string
	Comment    string
	Author     string
	EmptyLayer bool
	// Size is the uncompressed size of the entry's layer (0 for an empty one).
	Size   int64
	DiffID string `json:",omitempty"`
}

// History returns the history of img newest first, each non-empty entry
// with the uncompressed size of the layer it made. The newest entry carries
// the image ID, the others "<missing>", as in docker. An image whose config
// has no history gets one entry per layer.
func History(img v1.Image) ([]HistoryEntry, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	hist := cfg.History
	if len(hist) == 0 {
		for range layers {
			hist = append(hist, v1.History{Created: cfg.Created})
		}
	}
	var entries []HistoryEntry
	li := 0
	for _, h := range hist {
		e := HistoryEntry{ID: "<missing>", Created: h.Created.Time, CreatedBy: h.CreatedBy,
			Comment: h.Comment, Author: h.Author, EmptyLayer: h.EmptyLayer}
		if !h.EmptyLayer && li < len(layers) {
			if e.Size, err = contentSize(layers[li]); err != nil {
				return nil, err
			}
			if li < len(cfg.RootFS.DiffIDs) {
				e.DiffID = cfg.RootFS.DiffIDs[li].String()
			}
			li++
		}
		entries = append(entries, e)
	}
	for i, j := 0, len(entries)-1; i < j; i, j = i+1, j-1 {
		entries[i], entries[j] = entries[j], entries[i]
	}
	if len(entries) > 0 {
		id, err := img.ConfigName()
		if err != nil {
			return nil, fmt.Errorf("reading the image ID: %w", err)
		}
		entries[0].ID = id.String()
	}
	return entries, nil
}

// contentSize returns the size docker shows for l: the bytes of its
// content (layer.ContentSize), not of its tar.
func contentSize(l v1.Layer) (int64, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, fmt.Errorf("reading layer: %w", err)
	}
	defer rc.Close()
	return layer.ContentSize(rc)
}

// UncompressedSize returns the size of l's uncompressed tar: the blob size
// for a layer stored as a plain tar, else by reading it through.
// TODO: use a per-layer size from the store (it caches them) once it
// exports one; this reads every compressed layer.
func UncompressedSize(l v1.Layer) (int64, error) {
	mt, err := l.MediaType()
	if err != nil {
		return 0, fmt.Errorf("reading layer media type: %w", err)
	}
	if mt == types.OCIUncompressedLayer || mt == types.DockerUncompressedLayer || mt == types.OCIUncompressedRestrictedLayer {
		return l.Size()
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, fmt.Errorf("reading layer: %w", err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil {
		return 0, fmt.Errorf("reading layer: %w", err)
	}
	return n, nil
}
