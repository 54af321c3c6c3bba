package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/store"
)

type pushFlags struct {
	insecure    []string
	compression string
	level       int
	quiet       bool
}

func newPushCmd(g *globals) *cobra.Command {
	f := &pushFlags{}
	cmd := &cobra.Command{
		Use:   "push [flags] IMAGE [REF]",
		Short: "Push an image to a registry, under its own name or REF",
		Example: `  strata push 127.0.0.1:5000/hello:multi
  strata push hello:multi 127.0.0.1:5000/hello:multi
  strata push --compression zstd --insecure-registry registry.lan:5000 app registry.lan:5000/team/app:1.2`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options()
			if err != nil {
				return err
			}
			st, err := g.openStore()
			if err != nil {
				return err
			}
			img, rec, err := st.Image(args[0])
			if err != nil {
				return err
			}
			dest, err := pushDestination(args, rec)
			if err != nil {
				return err
			}
			tmp, err := st.TempDir("push-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			opts.TempDir = tmp
			out := cmd.OutOrStdout()
			if !f.quiet {
				fmt.Fprintf(out, "The push refers to repository [%s]\n", strings.TrimSuffix(dest, ":"+tagOrDigest(dest)))
			}
			ctx := cmd.Context()
			dg, err := f.push(ctx, out, img, dest, opts)
			if err != nil {
				return err
			}
			return f.printPushed(ctx, out, img, dest, dg, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil, "registry HOST[:PORT] to reach over plain http; repeatable (loopback registries need none); \"insecure\" in the registries file does the same")
	fl.StringVar(&f.compression, "compression", "gzip", "compression of layers stored uncompressed: gzip or zstd")
	fl.IntVar(&f.level, "compression-level", 0, "compression level: 1 (fastest) to 9 for gzip, 1 to 22 for zstd; 0 is the default (gzip 6, zstd 3)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the pushed reference")
	return cmd
}

// push pushes img to dest, with docker push's progress bars unless quiet.
func (f *pushFlags) push(ctx context.Context, out io.Writer, img v1.Image, dest string, opts registry.Options) (v1.Hash, error) {
	var bars *progress.Bars
	var drained chan struct{}
	existed := map[int]bool{}
	opts.LayerExists = func(i int) { existed[i] = true }
	if !f.quiet {
		bars = progress.NewBars(out, isTerminal(out))
		if isTerminal(out) {
			opts.Progress, drained = pushBars(bars)
		}
	}
	dg, err := registry.Push(ctx, img, dest, opts)
	if drained != nil {
		<-drained
	}
	if bars != nil {
		if err == nil {
			pushedLines(bars, img, existed, drained != nil)
		}
		bars.Close()
	}
	return dg, err
}

// printPushed prints the pushed reference, as docker push does.
func (f *pushFlags) printPushed(ctx context.Context, out io.Writer, img v1.Image, dest string, dg v1.Hash, opts registry.Options) error {
	if f.quiet {
		fmt.Fprintln(out, dest)
		return nil
	}
	size, err := manifestSize(ctx, img, dest, dg, opts)
	if err != nil {
		return fmt.Errorf("reading the pushed manifest's size: %w", err)
	}
	fmt.Fprintf(out, "%s: digest: %s size: %d\n", tagOrDigest(dest), dg, size)
	return nil
}

// options checks the compression flags and returns the push's options.
func (f *pushFlags) options() (registry.Options, error) {
	opts, err := registryOptions(f.insecure)
	if err != nil {
		return opts, err
	}
	switch c := layer.Compression(f.compression); c {
	case layer.Gzip, layer.Zstd:
		opts.Compression = c
	default:
		return opts, fmt.Errorf("--compression %q: use gzip or zstd", f.compression)
	}
	if top := map[layer.Compression]int{layer.Gzip: 9, layer.Zstd: 22}[opts.Compression]; f.level < 0 || f.level > top {
		return opts, fmt.Errorf("--compression-level %d: use 1 to %d for %s, or 0 for its default", f.level, top, opts.Compression)
	}
	opts.CompressionLevel = f.level
	return opts, nil
}

// pushBars shows a push's upload updates on bars; drained is closed once
// the push has closed the updates and every one is shown.
func pushBars(bars *progress.Bars) (updates chan<- v1.Update, drained chan struct{}) {
	ch := make(chan v1.Update, 16)
	drained = make(chan struct{})
	go func() {
		defer close(drained)
		for u := range ch {
			bars.Set("layers", "Pushing", u.Complete, u.Total)
		}
	}()
	return ch, drained
}

// pushDestination returns the normalised name to push to: REF when given,
// else IMAGE itself, which must then be a name of the image, not an ID.
func pushDestination(args []string, rec store.Record) (string, error) {
	if len(args) == 2 {
		return store.Normalize(args[1])
	}
	full, err := store.Normalize(args[0])
	if err == nil {
		for _, n := range rec.Names {
			if n == full {
				return full, nil
			}
		}
	}
	return "", fmt.Errorf("%s is not a name of the image: give the destination, as in \"strata push %s REGISTRY/REPOSITORY:TAG\"", args[0], args[0])
}

// manifestSize returns the size of the manifest pushed with digest dg: that
// of img's own manifest when Push sent it unchanged, else the registry's.
// TODO: drop the HEAD request once registry.Push returns the descriptor it
// pushed.
func manifestSize(ctx context.Context, img v1.Image, dest string, dg v1.Hash, opts registry.Options) (int64, error) {
	if own, err := img.Digest(); err == nil && own == dg {
		raw, err := img.RawManifest()
		if err != nil {
			return 0, err
		}
		return int64(len(raw)), nil
	}
	repo := dest
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo = repo[:i]
	} else {
		repo = strings.TrimSuffix(repo, ":"+tagOrDigest(repo))
	}
	desc, err := registry.Head(ctx, repo+"@"+dg.String(), opts)
	if err != nil {
		return 0, err
	}
	return desc.Size, nil
}

// pushedLines gives every layer of img its final status as docker prints
// it, "Pushed" or "Layer already exists" for those existed holds (by
// index), and on a terminal the transfer bar too.
func pushedLines(bars *progress.Bars, img v1.Image, existed map[int]bool, tty bool) {
	if cfg, err := img.ConfigFile(); err == nil {
		ids := cfg.RootFS.DiffIDs
		for i := len(ids) - 1; i >= 0; i-- { // docker lists the top layer first
			status := "Pushed"
			if existed[i] {
				status = "Layer already exists"
			}
			bars.Done(shortID(ids[i].String()), status)
		}
	}
	if tty {
		bars.Done("layers", "Pushed")
	}
}
