package cli

import (
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/container"
	"github.com/strata-build/strata/internal/executor"
)

func newRunCmd(g *globals) *cobra.Command {
	var o container.Options
	var rm bool
	var entrypoint string
	var privileged bool
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in an image, isolated as a build's RUN",
		Example: `  strata run --rm hello:multi
  strata run --rm -e NAME=world -w /tmp busybox sh -c 'echo hello $NAME'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			o.Image, o.Args = args[0], args[1:]
			if cmd.Flags().Changed("entrypoint") {
				o.Entrypoint = []string{}
				if entrypoint != "" {
					o.Entrypoint = []string{entrypoint}
				}
			}
			if privileged {
				o.Security = executor.SecurityInsecure
			}
			o.Stdin, o.Stdout, o.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			// Signals to strata go to the container's process, which
			// decides the exit status, as docker run's --sig-proxy.
			sigs := make(chan os.Signal, 8)
			signal.Notify(sigs, executor.ForwardedSignals()...)
			defer signal.Stop(sigs)
			o.Signals = sigs
			code, err := container.Run(cmd.Context(), st, o)
			if err != nil {
				return err
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVar(&rm, "rm", false, "remove the container's files when it exits (always the case)")
	fl.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable KEY=VALUE")
	fl.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&o.User, "user", "u", "", "user[:group] to run as")
	fl.StringVar(&o.Network, "network", "host", "network: host or none")
	fl.StringVar(&entrypoint, "entrypoint", "", "override the image's ENTRYPOINT")
	fl.BoolVar(&privileged, "privileged", false, "give the command every capability, no seccomp filter and no masked paths (namespaces stay)")
	return cmd
}
