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

// storePuller pulls base images into the store for a build.
type storePuller struct {
	st   *store.Store
	opts registry.Options
}

// Pull pulls ref from its registry and stores it under ref's normalised name.
func (p *storePuller) Pull(ctx context.Context, ref string) error {
	_, err := pullImage(ctx, p.st, ref, p.opts, nil)
	return err
}

// pulled is what pullImage did, for the lines `strata pull` prints.
type pulled struct {
	name     string           // the normalised name the image is stored under
	digest   v1.Hash          // its manifest digest
	upToDate bool             // the name already pointed at this manifest
	layers   []v1.Hash        // layer blob digests, base first
	existed  map[v1.Hash]bool // layers the store had before the pull
}

// pullImage pulls ref and writes it into st under its normalised name. A
// digest reference that names an index is stored under the digest of the
// image picked from it. bars, when set, shows each layer's download.
func pullImage(ctx context.Context, st *store.Store, ref string, opts registry.Options, bars *progress.Bars) (pulled, error) {
	full, err := store.Normalize(ref)
	if err != nil {
		return pulled{}, err
	}
	img, dg, err := registry.Pull(ctx, full, opts)
	if err != nil {
		return pulled{}, err
	}
	p := pulled{name: full, existed: map[v1.Hash]bool{}}
	if p.digest, err = v1.NewHash(dg.DigestStr()); err != nil {
		return pulled{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if i := strings.IndexByte(full, '@'); i >= 0 && full[i+1:] != p.digest.String() {
		p.name = full[:i] + "@" + p.digest.String()
	}
	if _, rec, err := st.Image(p.name); err == nil && rec.Manifest == p.digest {
		p.upToDate = true
	}
	m, err := img.Manifest()
	if err != nil {
		return pulled{}, fmt.Errorf("pulling %s: reading manifest: %w", ref, err)
	}
	for _, l := range m.Layers {
		p.layers = append(p.layers, l.Digest)
		p.existed[l.Digest] = st.HasBlob(l.Digest)
		if bars != nil {
			if p.existed[l.Digest] {
				bars.Done(shortID(l.Digest.String()), "Already exists")
			} else {
				bars.Set(shortID(l.Digest.String()), "Waiting", 0, 0)
			}
		}
	}
	if bars != nil {
		img = &barsImage{Image: img, bars: bars}
	}
	names := []string{p.name}
	if !strings.Contains(p.name, "@") {
		// Docker records the digest a tag was pulled at (RepoDigests).
		repo, _ := store.RepoTag(p.name)
		names = append(names, repo+"@"+p.digest.String())
	}
	if _, err := st.WriteImage(ctx, img, names...); err != nil {
		return pulled{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return p, nil
}

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
			opts := registry.Options{Insecure: f.insecure}
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
			var bars *progress.Bars
			if !f.quiet {
				bars = progress.NewBars(out, isTerminal(out))
			}
			p, err := pullImage(cmd.Context(), st, ref, opts, bars)
			if bars != nil {
				if err == nil {
					for _, l := range p.layers {
						if !p.existed[l] {
							bars.Done(shortID(l.String()), "Pull complete")
						}
					}
				}
				bars.Close()
			}
			if err != nil {
				return err
			}
			if f.quiet {
				fmt.Fprintln(out, p.name)
				return nil
			}
			fmt.Fprintf(out, "Digest: %s\n", p.digest)
			if p.upToDate {
				fmt.Fprintf(out, "Status: Image is up to date for %s\n", store.FamiliarName(p.name))
			} else {
				fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", store.FamiliarName(p.name))
			}
			fmt.Fprintln(out, p.name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.platform, "platform", "", "os/arch[/variant] to pick from a multi-platform image (default: this machine's)")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil, "registry HOST[:PORT] to reach over plain http; repeatable (loopback registries need none)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image's full name")
	return cmd
}

// barsImage is a pulled image whose layer downloads are shown on bars.
type barsImage struct {
	v1.Image
	bars *progress.Bars
}

// Layers implements v1.Image.
func (i *barsImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for n, l := range ls {
		out[n] = &barsLayer{Layer: l, bars: i.bars}
	}
	return out, nil
}

// LayerByDigest implements v1.Image.
func (i *barsImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return &barsLayer{Layer: l, bars: i.bars}, nil
}

// barsLayer counts the compressed bytes read from a layer onto its bar.
type barsLayer struct {
	v1.Layer
	bars *progress.Bars
}

// Compressed implements v1.Layer.
func (l *barsLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	d, err := l.Digest()
	if err != nil {
		return rc, nil
	}
	size, _ := l.Size()
	return &barsReader{ReadCloser: rc, bars: l.bars, id: shortID(d.String()), total: size}, nil
}

type barsReader struct {
	io.ReadCloser
	bars  *progress.Bars
	id    string
	n     int64
	total int64
}

func (r *barsReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	if err == io.EOF {
		r.bars.Set(r.id, "Verifying", r.n, r.total)
	} else {
		r.bars.Set(r.id, "Downloading", r.n, r.total)
	}
	return n, err
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
