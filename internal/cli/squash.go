package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/squash"
	"github.com/strata-build/strata/internal/store"
)

type squashFlags struct {
	tags  []string
	from  int
	all   bool
	quiet bool
}

func newSquashCmd(g *globals) *cobra.Command {
	f := &squashFlags{}
	cmd := &cobra.Command{
		Use:   "squash [flags] IMAGE -t NEW",
		Short: "Merge an image's top layers into one",
		Long: `Merge the layers of IMAGE above its base image into one layer and store the
result as NEW. Files that a layer adds and a later one deletes vanish; files of
the kept layers that later layers delete stay deleted. The config (CMD, ENV,
ENTRYPOINT, ...) is kept, and the history keeps one entry per instruction.

By default the base image's layers are kept as they are, so that they stay
shared with the other images built on it: the base is the image of the store
with the most layers that IMAGE is built on. --from N keeps layers 0..N-1 and
merges the rest; --all makes one layer of everything.`,
		Example: `  strata squash app:1 -t app:1-squashed
  strata squash --from 2 app:1 -t app:slim
  strata squash --all app:1 -t app:flat`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(f.tags) == 0 {
				return fmt.Errorf("give the squashed image a name with -t NEW")
			}
			st, img, rec, unlock, err := g.openImage(args[0])
			if err != nil {
				return err
			}
			defer unlock()
			from, how, err := f.keep(cmd, st, img, args[0])
			if err != nil {
				return err
			}
			res, err := squash.Image(cmd.Context(), st, img, squash.Options{From: from, Created: squashTime()})
			if err != nil {
				return err
			}
			out, err := st.WriteImage(cmd.Context(), res.Image, f.tags...)
			if err != nil {
				return fmt.Errorf("storing the squashed image: %w", err)
			}
			if f.quiet {
				fmt.Fprintln(cmd.OutOrStdout(), out.ID)
				return nil
			}
			w := cmd.ErrOrStderr()
			switch {
			case res.Merged == 0:
				fmt.Fprintf(w, "nothing to squash: %s has %s, all kept\n", args[0], plural(res.Kept, "layer"))
			case res.DiffID.Hex == "":
				fmt.Fprintf(w, "squashed %s of %s (%s) into none: they add nothing\n", plural(res.Merged, "layer"), args[0], how)
			default:
				fmt.Fprintf(w, "squashed %s of %s (%s) into one of %s\n", plural(res.Merged, "layer"), args[0], how, humanSize(res.Size))
			}
			fmt.Fprintf(w, "size %s -> %s\n", humanSize(rec.Size), humanSize(out.Size))
			fmt.Fprintln(cmd.OutOrStdout(), out.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name of the squashed image (name:tag); repeatable")
	fl.IntVar(&f.from, "from", 0, "keep layers 0..N-1 as they are and merge layers N..end")
	fl.BoolVar(&f.all, "all", false, "merge every layer into one (the config is kept)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the new image ID")
	cmd.MarkFlagsMutuallyExclusive("from", "all")
	return cmd
}

// squashTime is the squashed image's creation time: $SOURCE_DATE_EPOCH
// when set (reproducible), else now.
func squashTime() time.Time {
	if sec, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		return time.Unix(sec, 0)
	}
	return time.Now()
}

// keep returns how many layers the squash keeps, and how, for its message.
func (f *squashFlags) keep(cmd *cobra.Command, st *store.Store, img v1.Image, ref string) (int, string, error) {
	var opts squash.KeepOptions
	if f.all {
		opts.All = true
	} else if cmd.Flags().Changed("from") {
		if f.from < 0 {
			return 0, "", fmt.Errorf("--from %d: give a layer index from 0", f.from)
		}
		opts.From = &f.from
	}
	from, base, err := squash.Keep(st, img, opts)
	if errors.Is(err, squash.ErrNoBase) {
		return 0, "", fmt.Errorf("cannot tell which layers of %s belong to its base image: no image of the store is a base of it; give --from N to keep layers 0..N-1, or --all", ref)
	}
	if err != nil {
		return 0, "", err
	}
	how := fmt.Sprintf("keeping its first %d", from)
	if base != nil {
		how = fmt.Sprintf("keeping its base %s: %s", base.Name, plural(base.Layers, "layer"))
	}
	if from == 0 {
		how = "all layers"
	}
	return from, how, nil
}

// plural formats a count of things: "1 layer", "3 layers".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
