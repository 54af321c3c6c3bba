package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-build/strata/internal/rootfs"
)

func newExportCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export [-o FILE] IMAGE",
		Short: "Write an image's merged filesystem as one tar (docker export, straight from the image)",
		Example: `  strata export -o rootfs.tar hello:multi
  strata export hello:multi | strata import - hello:flat`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" {
				f, err := os.CreateTemp(dirOf(out), ".strata-export-*")
				if err != nil {
					return fmt.Errorf("creating %s: %w", out, err)
				}
				defer os.Remove(f.Name())
				if err := rootfs.Export(cmd.Context(), st, args[0], f); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				return os.Rename(f.Name(), out)
			}
			if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return fmt.Errorf("refusing to write a tar to a terminal: use -o FILE or a pipe")
			}
			return rootfs.Export(cmd.Context(), st, args[0], w)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of stdout")
	return cmd
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i+1]
		}
	}
	return "."
}
