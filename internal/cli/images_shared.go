package cli

import (
	"io"
	"time"

	"github.com/strata-build/strata/internal/imgdiff"
	"github.com/strata-build/strata/internal/store"
)

// sharedTable is the default table of `strata images --shared`.
const sharedTable = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}"

// renderShared prints `strata images --shared`: the listing with each
// image's shared and unique bytes, counted over every image of the store.
func renderShared(out io.Writer, st *store.Store, recs []store.Record, f *imagesFlags) error {
	usage, err := imgdiff.Sharing(st)
	if err != nil {
		return err
	}
	if f.json {
		sums := make([]imageSummary, 0, len(recs))
		for _, r := range recs {
			s := summarize(r)
			s.SharedSize = usage[r.Manifest].SharedSize
			sums = append(sums, s)
		}
		return writeJSON(out, sums)
	}
	format := f.format
	switch {
	case f.quiet:
		format = "{{.ID}}"
	case format == "" || format == "table":
		format = sharedTable
	}
	now := time.Now()
	var rows []any
	for _, r := range recs {
		u := usage[r.Manifest]
		for _, row := range imageRows([]store.Record{r}, !f.noTrunc, now) {
			ir := row.(imageRow)
			ir.SharedSize, ir.UniqueSize = humanSize(u.SharedSize), humanSize(u.UniqueSize)
			rows = append(rows, ir)
		}
	}
	return imagesListing.render(out, format, rows)
}
