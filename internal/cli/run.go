package cli

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-build/strata/internal/container"
	"github.com/strata-build/strata/internal/executor"
)

// runFlags are strata run's flags beside container.Options.
type runFlags struct {
	rm, privileged, init, tty bool
	entrypoint, snapshotter   string
	name                      string
	envFiles                  []string
	volumes, mounts, tmpfs    []string
	publish                   []string
}

func newRunCmd(g *globals) *cobra.Command {
	var o container.Options
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in an image, isolated as a build's RUN",
		Example: `  strata run --rm hello:multi
  strata run --rm -e NAME=world -w /tmp busybox sh -c 'echo hello $NAME'
  strata run -it -v "$PWD":/src:ro --tmpfs /tmp busybox sh`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runOptions(cmd, f, &o, args); err != nil {
				return err
			}
			st, err := g.openStore()
			if err != nil {
				return err
			}
			restore, err := rawTerminal(cmd, &o)
			if err != nil {
				return err
			}
			defer restore()
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
	addRunFlags(cmd, f, &o)
	return cmd
}

func addRunFlags(cmd *cobra.Command, f *runFlags, o *container.Options) {
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVar(&f.rm, "rm", false, "remove the container's files when it exits (always the case)")
	fl.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable KEY=VALUE (KEY alone: the host's value, if set)")
	fl.BoolP("interactive", "i", true, "connect stdin to the process (always the case)")
	fl.BoolVarP(&f.tty, "tty", "t", false, "give the process a pseudo-terminal (Ctrl-C and the window size reach it)")
	fl.StringArrayVar(&f.envFiles, "env-file", nil, "read environment variables from a file: KEY=VALUE lines (KEY alone: the host's value), # comments")
	fl.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount a host directory or file: HOST-PATH:CONTAINER-PATH[:ro]")
	fl.StringArrayVar(&f.mounts, "mount", nil, "type=bind,source=HOST-PATH,target=PATH[,readonly] or type=tmpfs,target=PATH[,tmpfs-size=BYTES][,tmpfs-mode=MODE]")
	fl.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs: PATH[:OPTIONS] (size=64m,mode=1777,noexec…)")
	fl.BoolVar(&o.ReadOnly, "read-only", false, "mount the root filesystem read-only (mounts on it stay writable)")
	fl.StringVarP(&o.Hostname, "hostname", "h", "", "the container's host name and HOSTNAME (default: a fresh 12-digit container ID)")
	fl.StringVar(&f.name, "name", "", "name the container: strata has no container list, so the name is its host name (unless --hostname)")
	fl.BoolVar(&f.init, "init", false, "run an init as PID 1 that forwards signals and reaps orphans: always the case, strata's sandbox init is PID 1")
	fl.StringArrayVarP(&f.publish, "publish", "p", nil, "with the host's network (the default) the container's ports are the host's: accepted with a warning; refused with --network none")
	for _, r := range refusedRunFlags() {
		if r.short != "" {
			fl.StringP(r.name, r.short, "", "not supported: "+r.why)
		} else {
			fl.String(r.name, "", "not supported: "+r.why)
		}
		fl.Lookup(r.name).NoOptDefVal = " " // so that -d alone parses, then is refused
	}
	fl.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&o.User, "user", "u", "", "user[:group] to run as")
	fl.StringVar(&o.Network, "network", "host", "network: host or none")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "override the image's ENTRYPOINT")
	addSnapshotterFlag(fl, &f.snapshotter)
	fl.BoolVar(&f.privileged, "privileged", false, "give the command every capability, no seccomp filter and no masked paths (namespaces stay)")
	// -h is --hostname, as in docker run; help stays on --help.
	fl.Bool("help", false, "help for run")
}

// runOptions fills o from the flags and arguments.
func runOptions(cmd *cobra.Command, f *runFlags, o *container.Options, args []string) error {
	if err := refuseRunFlags(cmd); err != nil {
		return err
	}
	if len(f.publish) > 0 {
		if o.Network != "host" {
			return fmt.Errorf("-p is not supported with --network %s: strata gives a container no network of its own to publish ports from; with --network host its ports are the host's\nSee 'strata run --help'.", o.Network)
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Published ports are discarded when using host network mode: the container's ports are the host's")
	}
	env, err := runEnv(f.envFiles, o.Env)
	if err != nil {
		return err
	}
	o.Env = env
	if o.Mounts, err = runMounts(f.volumes, f.mounts, f.tmpfs); err != nil {
		return err
	}
	if o.Hostname == "" {
		o.Hostname = f.name
	}
	if o.Snapshotter, err = snapshotterKind(f.snapshotter); err != nil {
		return err
	}
	o.Image, o.Args = args[0], args[1:]
	if cmd.Flags().Changed("entrypoint") {
		o.Entrypoint = []string{}
		if f.entrypoint != "" {
			o.Entrypoint = []string{f.entrypoint}
		}
	}
	if f.privileged {
		o.Security = executor.SecurityInsecure
	}
	o.Tty = f.tty
	o.Stdin, o.Stdout, o.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	return nil
}

// rawTerminal puts strata's terminal, when -t is given and stdin is one,
// in raw mode, so that keys such as Ctrl-C go to the container's terminal,
// and sizes the container's terminal like it. restore undoes it.
func rawTerminal(cmd *cobra.Command, o *container.Options) (restore func(), err error) {
	in, ok := cmd.InOrStdin().(*os.File)
	if !o.Tty || !ok || !term.IsTerminal(int(in.Fd())) {
		return func() {}, nil
	}
	if cols, rows, err := term.GetSize(int(in.Fd())); err == nil {
		o.TtyRows, o.TtyCols = uint16(rows), uint16(cols)
	}
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil, fmt.Errorf("run -t: putting the terminal in raw mode: %w", err)
	}
	return func() { term.Restore(int(in.Fd()), state) }, nil
}

// refusedRun is a docker run flag strata does not implement, and why.
type refusedRun struct{ name, short, why string }

func refusedRunFlags() []refusedRun {
	return []refusedRun{
		{"detach", "d", "strata has no daemon to keep a container running"},
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
