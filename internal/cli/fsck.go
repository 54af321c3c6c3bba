package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

func newFsckCmd(g *globals) *cobra.Command {
	var repair, asJSON bool
	cmd := &cobra.Command{
		Use:   "fsck [--repair]",
		Short: "Check the store: blob digests, image references, extracted layers, cache records",
		Long: `fsck checks every blob against its digest, every image name down to its
manifest, config and layers, every build cache record's blobs, and every
extracted layer directory against its diff_id. It exits 1 when a problem
remains. With --repair it removes what cannot be trusted: corrupt blobs, the
names of images whose blobs are missing or corrupt, cache records that need a
missing blob, layer directories that differ from their layer (they are
extracted again when next needed), and temporary files left by interrupted
processes. It needs the store to itself: it fails while a build is running.`,
		Example: `  strata fsck
  strata fsck --repair
  strata fsck --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			rep, err := st.Fsck(cmd.Context(), store.FsckOptions{Repair: repair})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(w, rep); err != nil {
					return err
				}
			} else {
				printFsck(w, rep)
			}
			left := 0
			for _, p := range rep.Problems {
				if !p.Repaired {
					left++
				}
			}
			switch {
			case left > 0:
				if !asJSON {
					fmt.Fprintf(w, "%d problems remain: run strata fsck --repair\n", left)
				}
				return &exitError{code: 1}
			case len(rep.Problems) > 0 && !asJSON:
				fmt.Fprintf(w, "%d problems repaired; the store is consistent\n", len(rep.Problems))
			case !asJSON:
				fmt.Fprintln(w, "the store is consistent")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "remove what cannot be trusted (see above)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// printFsck prints what fsck found, one line per problem.
func printFsck(w io.Writer, rep *store.FsckReport) {
	fmt.Fprintf(w, "checked %d blobs, %d image entries, %d layer dirs, %d cache records\n",
		rep.Blobs, rep.Images, rep.Layers, rep.CacheRecords)
	if rep.LayersUnverified > 0 {
		fmt.Fprintf(w, "%d layer dirs no blob describes were not verified (strata gc removes them)\n", rep.LayersUnverified)
	}
	for _, p := range rep.Problems {
		state := ""
		if p.Repaired {
			state = " (removed)"
		}
		fmt.Fprintf(w, "%s %s: %s%s\n", p.Kind, p.Object, p.Detail, state)
	}
	if rep.Temp > 0 {
		what := "strata fsck --repair removes them"
		if rep.TempRemoved {
			what = "removed"
		}
		fmt.Fprintf(w, "%d leftover temporary entries (%s) from interrupted processes: %s\n", rep.Temp, humanSize(rep.TempBytes), what)
	}
}
