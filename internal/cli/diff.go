package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/imgdiff"
)

type diffFlags struct {
	json bool
}

func newDiffCmd(g *globals) *cobra.Command {
	f := &diffFlags{}
	cmd := &cobra.Command{
		Use:   "diff [flags] IMAGE1 IMAGE2",
		Short: "List the files added, deleted and changed from one image to another",
		Long: `List the files IMAGE2 adds (A), deletes (D) and changes (C) relative to IMAGE1,
with their sizes, then a summary line. A path is changed when its type,
content, mode, owner, link target or xattrs differ; modification times are
not compared.`,
		Example: `  strata diff busybox app:1
  strata diff app:1 app:2 --json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			a, _, err := st.Image(args[0])
			if err != nil {
				return err
			}
			b, _, err := st.Image(args[1])
			if err != nil {
				return err
			}
			res, err := imgdiff.Images(cmd.Context(), a, b)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.json {
				return writeJSON(out, res)
			}
			for _, c := range res.Changes {
				size := ""
				switch {
				case c.Type != "file":
				case c.Kind == imgdiff.Changed && c.Size != c.OldSize:
					size = fmt.Sprintf("  (%s -> %s)", humanSize(c.OldSize), humanSize(c.Size))
				default:
					size = fmt.Sprintf("  (%s)", humanSize(c.Size))
				}
				fmt.Fprintf(out, "%s %s%s\n", c.Kind, c.Path, size)
			}
			s := res.Summary
			fmt.Fprintf(out, "%d added (%s), %d deleted (%s), %d changed (%s -> %s)\n",
				s.Added, humanSize(s.AddedBytes), s.Deleted, humanSize(s.DeletedBytes),
				s.Changed, humanSize(s.ChangedOldBytes), humanSize(s.ChangedBytes))
			return nil
		},
	}
	cmd.Flags().BoolVar(&f.json, "json", false, "print the changes and the summary as JSON")
	return cmd
}
