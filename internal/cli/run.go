package cli

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/container"
	"github.com/strata-build/strata/internal/executor"
)

func newRunCmd(g *globals) *cobra.Command {
	var o container.Options
	var rm bool
	var entrypoint string
	var privileged bool
	var envFiles []string
	var snapshotter string
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in an image, isolated as a build's RUN",
		Example: `  strata run --rm hello:multi
  strata run --rm -e NAME=world -w /tmp busybox sh -c 'echo hello $NAME'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseRunFlags(cmd); err != nil {
				return err
			}
			env, err := runEnv(envFiles, o.Env)
			if err != nil {
				return err
			}
			o.Env = env
			st, err := g.openStore()
			if err != nil {
				return err
			}
			if o.Snapshotter, err = snapshotterKind(snapshotter); err != nil {
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
	fl.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable KEY=VALUE (KEY alone: the host's value, if set)")
	fl.BoolP("interactive", "i", true, "connect stdin to the process (always the case)")
	fl.StringArrayVar(&envFiles, "env-file", nil, "read environment variables from a file: KEY=VALUE lines (KEY alone: the host's value), # comments")
	for _, r := range refusedRunFlags() {
		if r.short != "" {
			fl.StringP(r.name, r.short, "", "not supported: "+r.why)
		} else {
			fl.String(r.name, "", "not supported: "+r.why)
		}
		fl.Lookup(r.name).NoOptDefVal = " " // so that -t alone parses, then is refused
	}
	fl.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&o.User, "user", "u", "", "user[:group] to run as")
	fl.StringVar(&o.Network, "network", "host", "network: host or none")
	fl.StringVar(&entrypoint, "entrypoint", "", "override the image's ENTRYPOINT")
	addSnapshotterFlag(fl, &snapshotter)
	fl.BoolVar(&privileged, "privileged", false, "give the command every capability, no seccomp filter and no masked paths (namespaces stay)")
	return cmd
}

// refusedRun is a docker run flag strata does not implement, and why.
type refusedRun struct{ name, short, why string }

func refusedRunFlags() []refusedRun {
	return []refusedRun{
		{"tty", "t", "strata run has no pseudo-terminal; the process gets strata's own stdio"},
		{"detach", "d", "strata has no daemon to keep a container running"},
		{"publish", "p", "a container shares the host's network (or has none with --network none): its ports are the host's"},
		{"volume", "v", "bind mounts into strata run are not implemented"},
		{"mount", "", "bind mounts into strata run are not implemented"},
		{"name", "", "containers have no names: each strata run is gone when it exits"},
		{"init", "", "the sandbox's own init already forwards signals and reaps orphans"},
		{"read-only", "", "a read-only root is not implemented; the root's changes are thrown away at exit"},
		{"tmpfs", "", "tmpfs mounts into strata run are not implemented"},
	}
}

// refuseRunFlags returns an error for the first docker run flag given that
// strata does not implement: it is never ignored.
func refuseRunFlags(cmd *cobra.Command) error {
	for _, r := range refusedRunFlags() {
		if cmd.Flags().Changed(r.name) {
			flag := "--" + r.name
			if r.short != "" {
				flag = "-" + r.short + ", " + flag
			}
			return fmt.Errorf("%s is not supported: %s\nSee 'strata run --help'.", flag, r.why)
		}
	}
	return nil
}

// runEnv returns the variables of the --env-file files then of -e, as
// docker run reads them: a KEY without "=" takes the host's value and is
// left out when the host has none.
func runEnv(files, flags []string) ([]string, error) {
	var env []string
	add := func(kv string) {
		if strings.Contains(kv, "=") {
			env = append(env, kv)
		} else if v, ok := os.LookupEnv(kv); ok {
			env = append(env, kv+"="+v)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading --env-file: %w", err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimLeft(sc.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if strings.HasPrefix(line, "=") {
				return nil, fmt.Errorf("%s:%d: %q has no variable name", f, n, line)
			}
			add(line)
		}
	}
	for _, kv := range flags {
		if kv == "" || strings.HasPrefix(kv, "=") {
			return nil, fmt.Errorf("-e %q: want KEY=VALUE or KEY", kv)
		}
		add(kv)
	}
	return env, nil
}
