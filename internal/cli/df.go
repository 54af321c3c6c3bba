package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

func newDfCmd(g *globals) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "df [flags]",
		Short: "Show the space the store uses: images, build cache, cache mounts",
		Example: `  strata df
  strata df -v`,
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
			printUsage(cmd, u, verbose)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every image, cache record and cache mount")
	return cmd
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
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	fmt.Fprintf(tw, "Images\t%d\t%d\t%s\t%s\n", len(u.Images), named, humanSize(u.ImagesSize), reclaim(u.ImagesReclaimable, u.ImagesSize))
	fmt.Fprintf(tw, "Build Cache\t%d\t%d\t%s\t%s\n", len(u.Cache), inUse, humanSize(u.CacheSize), reclaim(u.CacheReclaimable, u.CacheSize))
	fmt.Fprintf(tw, "Cache mounts\t%d\t0\t%s\t%s\n", len(u.CacheMounts), humanSize(u.MountsSize), reclaim(u.MountsSize, u.MountsSize))
	tw.Flush()
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
