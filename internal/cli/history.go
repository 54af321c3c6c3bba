package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/analyze"
	"github.com/strata-build/strata/internal/store"
)

type historyFlags struct {
	noTrunc bool
	human   bool
	format  string
	json    bool
	quiet   bool
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

// historyEntry is one element of `strata history --json`: the entry and,
// on the newest one, the image's names.
type historyEntry struct {
	analyze.HistoryEntry
	Tags []string
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
  strata history --json busybox
  strata history -q busybox`,
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
			hist, err := analyze.History(img)
			if err != nil {
				return fmt.Errorf("reading the history of %s: %w", args[0], err)
			}
			entries := make([]historyEntry, len(hist))
			for i, e := range hist {
				entries[i] = historyEntry{HistoryEntry: e, Tags: []string{}}
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
			format := f.format
			if f.quiet {
				format = "{{.ID}}"
			}
			rows := make([]any, len(entries))
			now := time.Now()
			for i, e := range entries {
				rows[i] = historyRowOf(e, !f.noTrunc, f.human, now)
			}
			return historyListing.render(out, format, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.noTrunc, "no-trunc", false, "do not truncate CREATED BY and IDs")
	fl.BoolVarP(&f.human, "human", "H", true, "print sizes and dates in human readable form")
	fl.StringVar(&f.format, "format", "", "Go template for each entry, 'table TEMPLATE' for columns, or 'json'")
	fl.BoolVar(&f.json, "json", false, "print a JSON array of the entries")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the layer IDs (<missing> for those docker has none for)")
	return cmd
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
