package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

func newDfCmd(g *globals) *cobra.Command {
	var verbose, asJSON bool
	cmd := &cobra.Command{
		Use:   "df [flags]",
		Short: "Show the space the store uses: images, build cache, cache mounts, and what each prune frees",
		Long: `Show the space the store uses. Every byte under the store directory is
counted once, as du -sb --apparent-size counts it (hard links once,
directories' own sizes too), and belongs to one row. RECLAIMABLE is what
the prune command in the last column frees, to the byte.`,
		Example: `  strata df
  strata df -v
  strata system df --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			u, err := st.Usage(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), struct {
					Root        string
					Disk        store.DiskUsage
					Reclaimable []store.Reclaim
					Garbage     int64
				}{st.Root(), u.Disk, u.Reclaimable, u.Garbage})
			}
			printUsage(cmd, u, verbose)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every image, cache record and cache mount")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the bytes of each part and what each prune command frees, as JSON")
	return cmd
}

// reclaimOf returns what the prune command c frees, as Usage measured it.
func reclaimOf(u *store.Usage, c string) int64 {
	for _, r := range u.Reclaimable {
		if r.Command == c {
			return r.Bytes
		}
	}
	return 0
}

// printUsage prints u as docker system df does.
func printUsage(cmd *cobra.Command, u *store.Usage, verbose bool) {
	out := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	named, inUse := 0, 0
	for _, i := range u.Images {
		if !i.Dangling {
			named++
		}
	}
	for _, c := range u.Cache {
		if c.InUse {
			inUse++
		}
	}
	d := u.Disk
	other := d.Unreferenced + d.Temp + d.Metadata
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE\tBY")
	fmt.Fprintf(tw, "Images\t%d\t%d\t%s\t%s\tstrata image prune -a\n", len(u.Images), named, humanSize(d.Images), reclaim(reclaimOf(u, "image prune -a"), d.Images))
	fmt.Fprintf(tw, "Build Cache\t%d\t%d\t%s\t%s\tstrata builder prune\n", len(u.Cache), inUse, humanSize(d.BuildCache), reclaim(reclaimOf(u, "builder prune"), d.BuildCache))
	fmt.Fprintf(tw, "Cache mounts\t%d\t0\t%s\t%s\tstrata builder prune -a\n", len(u.CacheMounts), humanSize(d.CacheMounts), reclaim(d.CacheMounts, d.CacheMounts))
	fmt.Fprintf(tw, "Other\t\t\t%s\t%s\tany prune\n", humanSize(other), reclaim(u.Garbage, other))
	tw.Flush()
	fmt.Fprintf(out, "\nTotal: %s (%d bytes, as du -sb --apparent-size counts them): images %s, build cache %s, cache mounts %s, unreferenced %s, temporary %s, metadata %s\n",
		humanSize(d.Total), d.Total, humanSize(d.Images), humanSize(d.BuildCache), humanSize(d.CacheMounts), humanSize(d.Unreferenced), humanSize(d.Temp), humanSize(d.Metadata))
	fmt.Fprint(out, "Reclaimable:")
	for i, r := range u.Reclaimable {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(out, "%s strata %s %s", sep, r.Command, humanSize(r.Bytes))
	}
	fmt.Fprintln(out)
	l := u.Layers
	fmt.Fprintf(out, "\nLayers: %d (%s): %d shared by several images (%s), %d unique to one (%s)\n",
		l.Count, humanSize(l.Size), l.SharedCount, humanSize(l.SharedSize), l.UniqueCount, humanSize(l.UniqueSize))
	if !verbose {
		return
	}
	now := time.Now()
	fmt.Fprintln(out, "\nImages space usage:")
	tw = tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE")
	for _, i := range u.Images {
		id := i.ID.Hex
		if len(id) > 12 {
			id = id[:12]
		}
		names := i.Names
		if len(names) == 0 {
			names = []string{""}
		}
		for _, n := range names {
			repo, tag := "<none>", "<none>"
			if n != "" {
				repo, tag = store.RepoTag(n)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", repo, tag, id, humanSince(i.Created, now),
				humanSize(i.Blobs), humanSize(i.Shared), humanSize(i.Unique))
		}
	}
	tw.Flush()
	fmt.Fprintln(out, "\nBuild cache usage:")
	tw = tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CACHE ID\tCREATED\tSIZE\tIN USE")
	for _, c := range u.Cache {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", c.Key[:12], humanSince(c.Created, now), humanSize(c.Size), c.InUse)
	}
	tw.Flush()
	fmt.Fprintln(out, "\nCache mounts:")
	tw = tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tLAST USED\tSIZE")
	for _, m := range u.CacheMounts {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.ID[:12], humanSince(m.Modified, now), humanSize(m.Size))
	}
	tw.Flush()
}

// reclaim formats a reclaimable size with its share of the total.
func reclaim(n, total int64) string {
	if total == 0 {
		return humanSize(n)
	}
	return fmt.Sprintf("%s (%d%%)", humanSize(n), n*100/total)
}
