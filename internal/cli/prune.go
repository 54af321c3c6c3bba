package cli

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

// pruneKind is one of the prune commands: what it removes without and
// with --all, and what it warns about.
type pruneKind struct {
	use, short, example string
	command, allCommand string // the rows of store.PruneCommands
	warn, allWarn       string
	allHelp             string
	keepStorage         bool // has --keep-storage
}

func newPruneCmd(g *globals) *cobra.Command {
	return newPruneKindCmd(g, pruneKind{
		use: "prune", short: "Remove dangling images and the build cache; with --all every image and the cache mounts too",
		example: `  strata prune -f
  strata prune --all --filter until=24h`,
		command: "prune", allCommand: "prune -a",
		warn:    "all dangling images and all build cache records (with the context file hashes kept for rebuilds)",
		allWarn: "all images (strata has no containers: none is in use), all build cache records (with the context file hashes kept for rebuilds) and all cache mounts",
		allHelp: "remove every image, not only the dangling ones, and the RUN --mount=type=cache directories",
	})
}

func newImagePruneCmd(g *globals) *cobra.Command {
	return newPruneKindCmd(g, pruneKind{
		use: "prune", short: "Remove dangling images, or with --all every image",
		example: `  strata image prune -f
  strata image prune -a --filter until=240h`,
		command: "image prune", allCommand: "image prune -a",
		warn: "all dangling images", allWarn: "all images (strata has no containers: none is in use)",
		allHelp: "remove every image, not only the dangling ones",
	})
}

func newBuilderPruneCmd(g *globals) *cobra.Command {
	return newPruneKindCmd(g, pruneKind{
		use: "prune", short: "Remove the build cache",
		example: `  strata builder prune -f
  strata builder prune -af --filter until=24h`,
		command: "builder prune", allCommand: "builder prune -a",
		warn: "all build cache records (with the context file hashes kept for rebuilds)", allWarn: "all build cache records (with the context file hashes) and cache mounts",
		allHelp:     "also remove the RUN --mount=type=cache directories",
		keepStorage: true,
	})
}

// pruneOptions returns what the prune command c removes, from the table df
// measures its reclaimable figures with, so that both always agree.
func pruneOptions(c string) (store.PruneOptions, error) {
	for _, pc := range store.PruneCommands() {
		if pc.Command == c {
			return pc.Options, nil
		}
	}
	return store.PruneOptions{}, fmt.Errorf("no prune command %q in the store's table (a defect: please report it)", c)
}

func newPruneKindCmd(g *globals, k pruneKind) *cobra.Command {
	var all, force bool
	var filters []string
	var keepStorage string
	cmd := &cobra.Command{
		Use:     k.use + " [flags]",
		Short:   k.short,
		Example: k.example,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			command, what := k.command, k.warn
			if all {
				command, what = k.allCommand, k.allWarn
			}
			opts, err := pruneOptions(command)
			if err != nil {
				return err
			}
			until, err := parseUntil(filters)
			if err != nil {
				return err
			}
			opts.Until = until
			if keepStorage != "" {
				if opts.KeepStorage, err = units.RAMInBytes(keepStorage); err != nil || opts.KeepStorage < 0 {
					return fmt.Errorf("--keep-storage %q: want a size such as 500MB or 2GB", keepStorage)
				}
			}
			if !force && !confirm(cmd, what) {
				return nil
			}
			st, err := g.openStore()
			if err != nil {
				return err
			}
			res, err := st.Prune(cmd.Context(), opts)
			printPruned(cmd, res)
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, k.allHelp)
	fl.BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	fl.StringArrayVar(&filters, "filter", nil, "until=DURATION: keep what is younger (24h, 90m)")
	if k.keepStorage {
		fl.StringVar(&keepStorage, "keep-storage", "", "keep the newest cache records that fit in this size (500MB, 2GB)")
	}
	return cmd
}

// parseUntil reads prune's --filter values: until=DURATION only.
func parseUntil(filters []string) (time.Duration, error) {
	var until time.Duration
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k != "until" {
			return 0, fmt.Errorf("--filter %q: only until=DURATION (like 24h) is supported", f)
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("--filter %q: %q is not a duration like 24h or 90m", f, v)
		}
		until = d
	}
	return until, nil
}

// confirm asks docker's question and reports a yes.
func confirm(cmd *cobra.Command, what string) bool {
	fmt.Fprintf(cmd.OutOrStdout(), "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

// printPruned prints what a prune removed, as docker does.
func printPruned(cmd *cobra.Command, res store.PruneStats) {
	out := cmd.OutOrStdout()
	if len(res.Images) > 0 {
		fmt.Fprintln(out, "Deleted Images:")
		for _, n := range res.Untagged {
			fmt.Fprintf(out, "untagged: %s\n", n)
		}
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
}
