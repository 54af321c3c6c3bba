package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

type historyFlags struct {
	noTrunc bool
	human   bool
	format  string
	json    bool
}

// historyRow is one line of `strata history`, with the fields docker's
// --format offers plus EmptyLayer (in the order `{{json .}}` prints them).
type historyRow struct {
	Comment      string
	CreatedAt    string
	CreatedBy    string
	CreatedSince string
	EmptyLayer   bool
	ID           string
	Size         string
}

// historyEntry is one element of `strata history --json`.
type historyEntry struct {
	ID         string `json:"Id"`
	Created    time.Time
	CreatedBy  string
	Comment    string
	Author     string
	EmptyLayer bool
	Size       int64
	DiffID     string `json:",omitempty"`
	Tags       []string
}

var historyListing = listing{
	defaultTable: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
	headers: map[string]string{
		"Comment":      "COMMENT",
		"CreatedAt":    "CREATED AT",
		"CreatedBy":    "CREATED BY",
		"CreatedSince": "CREATED",
		"EmptyLayer":   "EMPTY LAYER",
		"ID":           "IMAGE",
		"Size":         "SIZE",
	},
}

func newHistoryCmd(g *globals) *cobra.Command {
	f := &historyFlags{}
	cmd := &cobra.Command{
		Use:   "history [flags] IMAGE",
		Short: "Show the history of an image, one line per instruction with its layer size",
		Example: `  strata history hello:multi
  strata history --no-trunc --format '{{.Size}}\t{{.CreatedBy}}' hello:multi
  strata history --json busybox`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			img, rec, err := st.Image(args[0])
			if err != nil {
				return err
			}
			entries, err := imageHistory(img, rec.ID.String())
			if err != nil {
				return fmt.Errorf("reading the history of %s: %w", args[0], err)
			}
			for i := range entries {
				entries[i].Tags = []string{}
			}
			if len(entries) > 0 {
				for _, n := range rec.Names {
					if !strings.Contains(n, "@") {
						entries[0].Tags = append(entries[0].Tags, store.FamiliarName(n))
					}
				}
			}
			out := cmd.OutOrStdout()
			if f.json {
				return writeJSON(out, entries)
			}
			rows := make([]any, len(entries))
			now := time.Now()
			for i, e := range entries {
				rows[i] = historyRowOf(e, !f.noTrunc, f.human, now)
			}
			return historyListing.render(out, f.format, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.noTrunc, "no-trunc", false, "do not truncate CREATED BY and IDs")
	fl.BoolVarP(&f.human, "human", "H", true, "print sizes and dates in human readable form")
	fl.StringVar(&f.format, "format", "", "Go template for each entry, 'table TEMPLATE' for columns, or 'json'")
	fl.BoolVar(&f.json, "json", false, "print a JSON array of the entries")
	return cmd
}

// imageHistory returns the history of img newest first, each non-empty entry
// with the uncompressed size of the layer it made. The newest entry carries
// the image ID, the others "<missing>", as in docker. An image whose config
// has no history gets one entry per layer.
func imageHistory(img v1.Image, id string) ([]historyEntry, error) {
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
	var entries []historyEntry
	li := 0
	for _, h := range hist {
		e := historyEntry{
			ID:         "<missing>",
			Created:    h.Created.Time,
			CreatedBy:  h.CreatedBy,
			Comment:    h.Comment,
			Author:     h.Author,
			EmptyLayer: h.EmptyLayer,
		}
		if !h.EmptyLayer && li < len(layers) {
			e.Size, err = uncompressedSize(layers[li])
			if err != nil {
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
		entries[0].ID = id
	}
	return entries, nil
}

// uncompressedSize returns the size of l's uncompressed tar: the blob size
// for a layer stored as a plain tar, else by reading it through.
// TODO: use a per-layer size from the store (it caches them) once it
// exports one; this reads every compressed layer.
func uncompressedSize(l v1.Layer) (int64, error) {
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

// historyRowOf renders e as docker's history columns.
func historyRowOf(e historyEntry, trunc, human bool, now time.Time) historyRow {
	r := historyRow{
		Comment:    e.Comment,
		CreatedAt:  time.Unix(e.Created.Unix(), 0).Format(time.RFC3339),
		CreatedBy:  strings.ReplaceAll(e.CreatedBy, "\t", " "),
		EmptyLayer: e.EmptyLayer,
		ID:         e.ID,
		Size:       strconv.FormatInt(e.Size, 10),
	}
	r.CreatedSince = r.CreatedAt
	if human {
		r.CreatedSince = humanSince(e.Created, now)
		r.Size = humanSize(e.Size)
	}
	if trunc {
		r.CreatedBy = ellipsis(r.CreatedBy, 45)
		if r.ID != "<missing>" {
			r.ID = shortID(r.ID)
		}
	}
	return r
}
