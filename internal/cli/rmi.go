package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

func newRmiCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi [flags] IMAGE...",
		Short: "Remove images from the store",
		Example: `  strata rmi hello:multi
  strata rmi -f 3f57d9401f8d`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			failed := false
			for _, ref := range args {
				lines, err := st.Remove(cmd.Context(), ref, store.RemoveOptions{Force: force})
				for _, l := range lines {
					fmt.Fprintln(out, l)
				}
				if err != nil {
					if len(args) == 1 {
						return err
					}
					// Like docker, go on with the other images and fail at the end.
					fmt.Fprintf(errw, "strata: %v\n", err)
					failed = true
				}
			}
			if failed {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove an image by ID even when several repositories name it")
	return cmd
}
