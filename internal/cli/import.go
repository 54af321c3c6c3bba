package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/rootfs"
)

func newImportCmd(g *globals) *cobra.Command {
	var changes []string
	var message string
	cmd := &cobra.Command{
		Use:   "import [flags] TARBALL|- [NAME]",
		Short: "Make a one-layer image from a root filesystem tarball (docker import)",
		Example: `  strata import rootfs.tar.gz debian:bookworm
  strata export app | strata import --change 'CMD ["/app"]' - app:flat
  strata import -m "base from the vendor" rootfs.tar vendor:1`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			var r io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("opening the tarball: %w", err)
				}
				defer f.Close()
				r = f
			}
			// The history names the file, never the host path it was at.
			opts := rootfs.ImportOptions{Changes: changes, Source: filepath.Base(args[0]), Message: message}
			if len(args) == 2 {
				opts.Names = []string{args[1]}
			}
			rec, err := rootfs.Import(cmd.Context(), st, r, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), rec.ID.String())
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, ...)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "history comment of the image (default \"Imported from FILE\")")
	return cmd
}
