package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newNoContainerCmds returns docker's container commands, each refusing
// with the reason and what to type instead: strata has no daemon, so a
// container lives exactly as long as its `strata run`.
func newNoContainerCmds() []*cobra.Command {
	const why = "strata has no daemon and keeps no containers: a container lives as long as its strata run"
	list := []struct{ name, instead string }{
		{"ps", "strata run lists nothing because nothing outlives it"},
		{"exec", "run the command with strata run IMAGE COMMAND"},
		{"logs", "a container's output goes to strata run's own stdout and stderr"},
		{"stop", "stop a strata run with Ctrl-C or a signal to it: it reaches the process"},
		{"kill", "send the signal to the strata run process: it reaches the container's"},
		{"start", "run a new container with strata run"},
		{"rm", "to remove an image, use strata rmi"},
		{"commit", "write the changes as a Dockerfile RUN and strata build"},
	}
	var cmds []*cobra.Command
	for _, c := range list {
		c := c
		cmds = append(cmds, &cobra.Command{
			Use:                c.name,
			Short:              "Not supported: " + why,
			Example:            "  strata run --rm busybox echo hi",
			Hidden:             true,
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return &usageError{path: "strata", err: fmt.Errorf("%s is not supported: %s; %s", cmd.CommandPath(), why, c.instead)}
			},
		})
	}
	return cmds
}
