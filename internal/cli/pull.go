package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/store"
)

type pullFlags struct {
	platform string
	insecure []string
	quiet    bool
}

func newPullCmd(g *globals) *cobra.Command {
	f := &pullFlags{}
	cmd := &cobra.Command{
		Use:   "pull [flags] NAME[:TAG|@DIGEST]",
		Short: "Pull an image from a registry into the store",
		Example: `  strata pull busybox
  strata pull --platform linux/arm64 debian:bookworm-slim
  strata pull --insecure-registry registry.lan:5000 registry.lan:5000/team/app:1.2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := registryOptions(f.insecure)
			if err != nil {
				return err
			}
			if f.platform != "" {
				p, err := v1.ParsePlatform(f.platform)
				if err != nil {
					return fmt.Errorf("--platform %q: %w", f.platform, err)
				}
				opts.Platform = p
			}
			st, err := g.openStore()
			if err != nil {
				return err
			}
			ref := args[0]
			full, err := store.Normalize(ref)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !f.quiet {
				if isNameOnly(ref) {
					fmt.Fprintln(out, "Using default tag: latest")
				}
				fmt.Fprintf(out, "%s: Pulling from %s\n", tagOrDigest(full), repoPath(full))
			}
			p, err := f.pull(cmd.Context(), out, st, ref, opts)
			if err != nil {
				return err
			}
			if f.quiet {
				fmt.Fprintln(out, p.Name)
				return nil
			}
			fmt.Fprintf(out, "Digest: %s\n", p.Digest)
			if p.UpToDate {
				fmt.Fprintf(out, "Status: Image is up to date for %s\n", store.FamiliarName(p.Name))
			} else {
				fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", store.FamiliarName(p.Name))
			}
			fmt.Fprintln(out, p.Name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.platform, "platform", "", "os/arch[/variant] to pick from a multi-platform image (default: this machine's)")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil, "registry HOST[:PORT] to reach over plain http; repeatable (loopback registries need none); \"insecure\" in the registries file does the same")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image's full name")
	return cmd
}

// pull pulls ref into st, with docker pull's progress bars unless quiet.
func (f *pullFlags) pull(ctx context.Context, out io.Writer, st *store.Store, ref string, opts registry.Options) (registry.Pulled, error) {
	var bars *progress.Bars
	popts := registry.PullToOptions{Options: opts}
	if !f.quiet {
		bars = progress.NewBars(out, isTerminal(out))
		popts.Observer = pullBars{bars}
	}
	p, err := registry.PullTo(ctx, st, ref, popts)
	if bars != nil {
		if err == nil {
			for _, l := range p.Layers {
				if !p.Existed[l] {
					bars.Done(shortID(l.String()), "Pull complete")
				}
			}
		}
		bars.Close()
	}
	return p, err
}

// pullBars shows a pull's layers on progress bars, as docker pull does.
type pullBars struct{ bars *progress.Bars }

// Existing implements registry.LayerObserver.
func (b pullBars) Existing(d v1.Hash) { b.bars.Done(shortID(d.String()), "Already exists") }

// Waiting implements registry.LayerObserver.
func (b pullBars) Waiting(d v1.Hash) { b.bars.Set(shortID(d.String()), "Waiting", 0, 0) }

// Read implements registry.LayerObserver.
func (b pullBars) Read(d v1.Hash, n, total int64, done bool) {
	status := "Downloading"
	if done {
		status = "Verifying"
	}
	b.bars.Set(shortID(d.String()), status, n, total)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// tagOrDigest returns the tag or digest of a normalised name.
func tagOrDigest(full string) string {
	if i := strings.IndexByte(full, '@'); i >= 0 {
		return full[i+1:]
	}
	_, tag := store.RepoTag(full)
	return tag
}

// repoPath returns the repository path of a normalised name, without its
// registry: "docker.io/library/busybox:latest" → "library/busybox".
func repoPath(full string) string {
	repo := full
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndexByte(repo, ':'); i >= 0 && !strings.Contains(repo[i:], "/") {
		repo = repo[:i]
	}
	if i := strings.IndexByte(repo, '/'); i >= 0 {
		return repo[i+1:]
	}
	return repo
}
