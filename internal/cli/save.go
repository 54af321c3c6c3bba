package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-build/strata/internal/output"
	"github.com/strata-build/strata/internal/store"
)

func newSaveCmd(g *globals) *cobra.Command {
	var out, format string
	cmd := &cobra.Command{
		Use:   "save [flags] IMAGE...",
		Short: "Write images to a tar archive that docker load (or strata load) reads",
		Example: `  strata save -o hello.tar hello:multi
  strata save busybox hello:multi | docker load
  strata save --format oci -o hello-oci.tar hello:multi`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sink func(w io.Writer) output.Sink
			switch format {
			case "docker":
				sink = func(w io.Writer) output.Sink { return output.DockerArchive{W: w} }
			case "oci":
				sink = func(w io.Writer) output.Sink { return output.OCIArchive{W: w} }
			default:
				return fmt.Errorf("--format %q: use docker or oci", format)
			}
			st, err := g.openStore()
			if err != nil {
				return err
			}
			images, err := imagesToSave(st, args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if out == "" {
				w := cmd.OutOrStdout()
				if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return fmt.Errorf("refusing to write a tar to a terminal: use -o FILE or redirect the output")
				}
				return sink(w).Write(ctx, images)
			}
			// Write next to the target and rename, so that a failed save
			// leaves no partial archive behind.
			f, err := os.CreateTemp(filepath.Dir(out), ".strata-save-*")
			if err != nil {
				return fmt.Errorf("creating %s: %w", out, err)
			}
			defer os.Remove(f.Name())
			if err := sink(f).Write(ctx, images); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			if err := os.Chmod(f.Name(), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			if err := os.Rename(f.Name(), out); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of stdout")
	cmd.Flags().StringVar(&format, "format", "docker", "archive format: docker (docker load) or oci (an OCI layout tar)")
	return cmd
}

// imagesToSave resolves the arguments of save as docker does: a repository
// without a tag means every tagged image of that repository; a name means
// that image under that name; an ID means the image without a name. An
// image given twice is saved once with all its names.
func imagesToSave(st *store.Store, args []string) ([]output.NamedImage, error) {
	var list []output.NamedImage
	at := map[v1.Hash]int{} // manifest digest → index in list
	named := map[string]bool{}
	add := func(ref, name string) error {
		img, rec, err := st.Image(ref)
		if err != nil {
			return err
		}
		i, ok := at[rec.Manifest]
		if !ok {
			i = len(list)
			at[rec.Manifest] = i
			list = append(list, output.NamedImage{Image: img})
		}
		if name != "" && !named[name] {
			named[name] = true
			list[i].Names = append(list[i].Names, name)
		}
		return nil
	}
	var recs []store.Record
	for _, arg := range args {
		full, err := store.Normalize(arg)
		if err == nil && isNameOnly(arg) {
			if recs == nil {
				if recs, err = st.Images(); err != nil {
					return nil, err
				}
			}
			repo := strings.TrimSuffix(full, ":latest")
			found := false
			for _, r := range recs {
				for _, n := range r.Names {
					if strings.HasPrefix(n, repo+":") {
						found = true
						if err := add(n, n); err != nil {
							return nil, err
						}
					}
				}
			}
			if found {
				continue
			}
		}
		_, rec, err := st.Image(arg)
		if err != nil {
			return nil, err
		}
		name := ""
		for _, n := range rec.Names {
			if n == full && !strings.Contains(n, "@") {
				name = n
			}
		}
		if err := add(arg, name); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// isNameOnly reports whether ref names a repository without a tag or digest.
func isNameOnly(ref string) bool {
	if strings.Contains(ref, "@") {
		return false
	}
	i := strings.LastIndexByte(ref, ':')
	return i < 0 || strings.Contains(ref[i:], "/")
}
