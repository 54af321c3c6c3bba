package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/output"
	"github.com/strata-build/strata/internal/store"
)

func newLoadCmd(g *globals) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [flags]",
		Short: "Load images from a docker save or OCI archive into the store",
		Example: `  strata load -i hello.tar
  docker save busybox | strata load
  strata save hello:multi | strata --root /tmp/other load`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			path := input
			if path == "" {
				tmp, err := st.TempDir("load-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				path = filepath.Join(tmp, "archive.tar")
				if err := spool(cmd.InOrStdin(), path); err != nil {
					return fmt.Errorf("reading the archive from stdin: %w", err)
				}
			}
			images, err := output.ReadArchive(ctx, path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, ni := range images {
				rec, err := st.WriteImage(ctx, ni.Image, ni.Names...)
				if err != nil {
					return fmt.Errorf("loading into the store: %w", err)
				}
				if len(ni.Names) == 0 {
					fmt.Fprintf(out, "Loaded image ID: %s\n", rec.ID)
					continue
				}
				for _, n := range ni.Names {
					full, err := store.Normalize(n)
					if err != nil {
						full = n
					}
					fmt.Fprintf(out, "Loaded image: %s\n", store.FamiliarName(full))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from FILE instead of stdin")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress progress output (the loaded names are still printed, as docker does)")
	return cmd
}

// spool copies r into a new file at path.
func spool(r io.Reader, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
