package cli

import (
	"github.com/spf13/cobra"
)

func newTagCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Give an image another name",
		Example: `  strata tag hello:multi hello:latest
  strata tag busybox 127.0.0.1:5000/tools/busybox:1.36`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			return st.Tag(args[0], args[1])
		},
	}
}
