package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/analyze"
	"github.com/strata-build/strata/internal/imgdiff"
)

type diffFlags struct {
	json     bool
	packages bool
	html     string
}

func newDiffCmd(g *globals) *cobra.Command {
	f := &diffFlags{}
	cmd := &cobra.Command{
		Use:   "diff [flags] IMAGE1 IMAGE2",
		Short: "List the files and packages added, deleted and changed from one image to another",
		Long: `List the files IMAGE2 adds (A), deletes (D) and changes (C) relative to IMAGE1,
with their sizes, then a summary line. A path is changed when its type,
content, mode, owner, link target or xattrs differ; modification times are
not compared.

Then the packages (dpkg, apk, Python, Node, Go binaries) IMAGE2 adds (+),
removes (-), upgrades (U, another version) and resizes (R, the same version
with other bytes), the largest byte changes first, and their summary; images
without any package database show no package section.`,
		Example: `  strata diff busybox app:1
  strata diff --packages hello:single hello:multi
  strata diff --html diff.html hello:single hello:multi
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
			d, err := analyze.DiffImages(cmd.Context(), a, b)
			if err != nil {
				return err
			}
			if f.html != "" {
				if err := writeHTMLDiff(f.html, args[0], args[1], d); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if f.json {
				return writeJSON(out, d)
			}
			if !f.packages {
				printFileChanges(out, d.Result)
			}
			if d.PackagesCompared > 0 || f.packages {
				printPackageChanges(out, d)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&f.json, "json", false, "print the file and package changes and their summaries as JSON")
	cmd.Flags().BoolVar(&f.packages, "packages", false, "print only the package changes")
	cmd.Flags().StringVar(&f.html, "html", "", "also write the diff as one self-contained HTML page to this file")
	return cmd
}

// printFileChanges writes one line per changed path and the summary.
func printFileChanges(out io.Writer, res *imgdiff.Result) {
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
}

// printPackageChanges writes the package table and its summary.
func printPackageChanges(out io.Writer, d *analyze.ImageDiff) {
	fmt.Fprintln(out, "\nPackages:")
	if len(d.Packages) > 0 {
		tw := tabwriter.NewWriter(out, 4, 1, 3, ' ', 0)
		fmt.Fprintln(tw, "  \tPACKAGE\tMANAGER\tVERSION\tBYTES\tDELTA")
		marks := map[analyze.ChangeKind]string{analyze.PackageAdded: "+", analyze.PackageRemoved: "-", analyze.PackageUpgraded: "U", analyze.PackageResized: "R"}
		for _, c := range d.Packages {
			version := c.Version
			switch {
			case c.Kind == analyze.PackageRemoved:
				version = c.OldVersion
			case c.Kind == analyze.PackageUpgraded:
				version = c.OldVersion + " -> " + c.Version
			}
			bytes := humanSize(c.Bytes)
			if c.Kind != analyze.PackageAdded {
				bytes = humanSize(c.OldBytes) + " -> " + humanSize(c.Bytes)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", marks[c.Kind], c.Name, c.Manager, version, bytes, signedSize(c.Delta))
		}
		tw.Flush()
	}
	s := d.PackagesSummary
	fmt.Fprintf(out, "%d packages added (%s), %d removed (%s), %d upgraded; package bytes %s\n",
		s.Added, humanSize(s.AddedBytes), s.Removed, humanSize(s.RemovedBytes), s.Upgraded, signedSize(s.Delta))
}

// signedSize is humanSize with a + or - sign.
func signedSize(n int64) string {
	if n < 0 {
		return "-" + humanSize(-n)
	}
	return "+" + humanSize(n)
}
