package cli

import "github.com/spf13/cobra"

// renamed returns cmd under another name, as docker's management commands
// (image ls, image rm, system df) name the same commands.
func renamed(cmd *cobra.Command, name, example string) *cobra.Command {
	cmd.Use = name + cmd.Use[len(cmd.Name()):]
	cmd.Aliases = nil
	cmd.Example = example
	return cmd
}

func newImageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "image",
		Short:   "Manage images (docker's image ls, rm, inspect, prune, history, tag…)",
		Example: "  strata image ls\n  strata image rm hello:multi\n  strata image prune -a -f",
	}
	cmd.AddCommand(
		renamed(newImagesCmd(g), "ls", "  strata image ls\n  strata image ls --filter dangling=true -q"),
		renamed(newRmiCmd(g), "rm", "  strata image rm hello:multi"),
		renamed(newInspectCmd(g), "inspect", "  strata image inspect busybox"),
		renamed(newHistoryCmd(g), "history", "  strata image history busybox"),
		renamed(newTagCmd(g), "tag", "  strata image tag busybox mybox:1"),
		renamed(newSaveCmd(g), "save", "  strata image save -o busybox.tar busybox"),
		renamed(newLoadCmd(g), "load", "  strata image load -i busybox.tar"),
		renamed(newPullCmd(g), "pull", "  strata image pull 127.0.0.1:5000/busybox"),
		renamed(newPushCmd(g), "push", "  strata image push hello:multi 127.0.0.1:5000/hello"),
		renamed(newImportCmd(g), "import", "  strata image import rootfs.tar mybase:1"),
		newImagePruneCmd(g),
	)
	return cmd
}

func newBuilderCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "builder",
		Short:   "Manage the build cache (docker's builder prune)",
		Example: "  strata builder prune -af",
	}
	cmd.AddCommand(newBuilderPruneCmd(g))
	return cmd
}

func newSystemCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "system",
		Short:   "Show and free the store's space (docker's system df, system prune)",
		Example: "  strata system df -v\n  strata system prune -f",
	}
	cmd.AddCommand(
		renamed(newDfCmd(g), "df", "  strata system df\n  strata system df -v"),
		renamed(newPruneCmd(g), "prune", "  strata system prune -f\n  strata system prune -af"),
	)
	return cmd
}
