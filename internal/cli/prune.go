package cli

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

func newPruneCmd(g *globals) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove the build cache and dangling images, and free the space nothing uses",
		Example: `  strata prune -f
  strata prune --all --filter until=24h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var until time.Duration
			for _, f := range filters {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k != "until" {
					return fmt.Errorf("--filter %q: only until=DURATION (like 24h) is supported", f)
				}
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return fmt.Errorf("--filter %q: %q is not a duration like 24h or 90m", f, v)
				}
				until = d
			}
			if !force {
				what := "all build cache records and dangling images"
				if all {
					what = "all build cache records, cache mounts and dangling images"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what)
				line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return nil
				}
			}
			st, err := g.openStore()
			if err != nil {
				return err
			}
			res, err := st.Prune(cmd.Context(), store.PruneOptions{All: all, Until: until})
			out := cmd.OutOrStdout()
			if len(res.Images) > 0 {
				fmt.Fprintln(out, "Deleted Images:")
				for _, id := range res.Images {
					fmt.Fprintf(out, "deleted: %s\n", id)
				}
			}
			if res.CacheRecords > 0 || res.CacheMounts > 0 {
				fmt.Fprintf(out, "Deleted build cache objects: %d records, %d cache mounts\n", res.CacheRecords, res.CacheMounts)
			}
			if res.GC.Deferred || res.MountsDeferred {
				fmt.Fprintln(cmd.ErrOrStderr(), "another strata process is using the store: some space will only be freed by a later prune")
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(res.Reclaimed))
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "also remove the RUN --mount=type=cache directories")
	fl.BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	fl.StringArrayVar(&filters, "filter", nil, "until=DURATION: keep what is younger (24h, 90m)")
	return cmd
}
