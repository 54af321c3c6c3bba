// Package container runs a command in an image, isolated the same way as a
// build's RUN, on a throwaway overlay that is removed when it exits.
package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/term"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/procspec"
	"github.com/strata-build/strata/internal/snapshot"
	"github.com/strata-build/strata/internal/store"
)

// Options describe one run.
type Options struct {
	// Image is the image reference.
	Image string
	// Args replace the image's CMD (the ENTRYPOINT stays).
	Args []string
	// Entrypoint, when non-nil, replaces the image's ENTRYPOINT.
	Entrypoint []string
	// Env adds KEY=VALUE pairs to the image's environment.
	Env []string
	// Workdir overrides the image's working directory.
	Workdir string
	// User overrides the image's USER.
	User string
	// Network is "host" (default) or "none".
	Network string
	// Security is executor.SecuritySandbox (default) or
	// executor.SecurityInsecure (--privileged).
	Security string
	// Stdin, Stdout and Stderr are the process's streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Signals, when not nil, are forwarded to the process once it runs; the
	// process then lives until it exits, whatever becomes of ctx.
	Signals <-chan os.Signal
	// Snapshotter chooses how the container's filesystem is made:
	// overlay (default), native or auto.
	Snapshotter snapshot.Kind
	// Mounts are bind mounts from the host and tmpfs mounts (-v, --mount,
	// --tmpfs).
	Mounts []executor.Mount
	// ReadOnly mounts the root read-only (--read-only).
	ReadOnly bool
	// Hostname is the container's host name, also its HOSTNAME variable;
	// empty means a fresh 12-digit container ID, as docker names one.
	Hostname string
	// Tty gives the process a pseudo-terminal of TtyRows×TtyCols (0: 24×80)
	// as stdin, stdout and stderr, copied to and from Stdin and Stdout.
	Tty              bool
	TtyRows, TtyCols uint16
}

// Run runs the command and returns its exit status.
func Run(ctx context.Context, st *store.Store, opts Options) (int, error) {
	img, _, err := st.Image(opts.Image)
	if err != nil {
		return -1, err
	}
	spec, done, err := setup(ctx, st, img, opts)
	if err != nil {
		return -1, err
	}
	defer done()
	if opts.Signals != nil {
		// The signals that would cancel ctx reach the process instead,
		// which decides when to exit (a trap may run).
		ctx = context.WithoutCancel(ctx)
	}
	if opts.Tty {
		return runTty(ctx, spec, opts)
	}
	return runPipes(ctx, spec, opts)
}

// Trace runs the command of img, an image of st, as Run does, traced (see
// executor.Trace). opts.Image only names img in messages.
func Trace(ctx context.Context, st *store.Store, img v1.Image, opts Options, tr executor.TraceSpec) (executor.Traced, error) {
	if opts.Hostname == "" {
		// One name for every traced run: a probe that prints its host
		// name answers the same on the image and on its slimmed copy.
		opts.Hostname = procspec.Hostname
	}
	spec, done, err := setup(ctx, st, img, opts)
	if err != nil {
		return executor.Traced{Exit: -1}, err
	}
	defer done()
	return executor.Trace(ctx, spec, tr)
}

// setup prepares the container's throwaway root and its process; done
// removes the root.
func setup(ctx context.Context, st *store.Store, img v1.Image, opts Options) (spec executor.RunSpec, done func(), err error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return spec, nil, fmt.Errorf("run: reading the image config: %w", err)
	}
	unlock, err := st.RLock()
	if err != nil {
		return spec, nil, err
	}
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	cleanups = append(cleanups, unlock)
	defer func() {
		if err != nil {
			cleanup() // done, a result, is nil by now
		}
	}()
	dirs, err := st.LayerDirs(ctx, img)
	if err != nil {
		return spec, nil, fmt.Errorf("run: extracting layers: %w", err)
	}
	lowers := make([]string, len(dirs))
	for i, d := range dirs {
		lowers[len(dirs)-1-i] = d.Path
	}
	if opts.Hostname == "" {
		opts.Hostname = newContainerID()
	}
	args, env, u, wd, err := processOf(&cfg.Config, opts)
	if err != nil {
		return spec, nil, err
	}
	dir, err := st.TempDir("container-")
	if err != nil {
		return spec, nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	snap, err := prepare(ctx, dir, lowers, opts)
	if err != nil {
		return spec, nil, fmt.Errorf("run: %w", err)
	}
	cleanups = append(cleanups, snap.remove)
	proc, err := procspec.Resolve(procspec.Spec{
		Layers:     lowers,
		Args:       args,
		Env:        env,
		User:       u,
		WorkingDir: wd,
		Network:    opts.Network,
		Hostname:   opts.Hostname,
		HostsDir:   dir,
	})
	if err != nil {
		return spec, nil, fmt.Errorf("run: %w", err)
	}
	return executor.RunSpec{
		Rootfs:       snap.Mount(), // thrown away
		Args:         proc.Args,
		Env:          proc.Env,
		Dir:          proc.Dir,
		UID:          proc.UID,
		GID:          proc.GID,
		Groups:       proc.Groups,
		Network:      proc.Network,
		Hostname:     proc.Hostname,
		Stdin:        opts.Stdin,
		Stdout:       opts.Stdout,
		Stderr:       opts.Stderr,
		HostsFile:    proc.HostsFile,
		ResolvConf:   proc.ResolvConf,
		Security:     opts.Security,
		Signals:      opts.Signals,
		Mounts:       opts.Mounts,
		ReadOnlyRoot: opts.ReadOnly,
	}, cleanup, nil
}

// runPipes runs spec as docker does without -t: the process gets pipes,
// never strata's terminal.
func runPipes(ctx context.Context, spec executor.RunSpec, opts Options) (int, error) {
	if isTerminal(opts.Stdin) {
		// A pipe of our own: exec would wait for a copy of a terminal,
		// whose read never ends, after the process exits.
		pr, pw, err := os.Pipe()
		if err != nil {
			return -1, fmt.Errorf("run: %w", err)
		}
		defer pr.Close()
		defer pw.Close()
		go io.Copy(pw, opts.Stdin)
		spec.Stdin = pr
	}
	if isTerminal(opts.Stdout) {
		spec.Stdout = struct{ io.Writer }{opts.Stdout}
	}
	if isTerminal(opts.Stderr) {
		spec.Stderr = struct{ io.Writer }{opts.Stderr}
	}
	return executor.Run(ctx, spec)
}

// runTty runs spec on a pseudo-terminal of its own (-t).
func runTty(ctx context.Context, spec executor.RunSpec, opts Options) (int, error) {
	t, err := newTty(opts.Stdin, opts.Stdout, opts.TtyRows, opts.TtyCols)
	if err != nil {
		return -1, fmt.Errorf("run -t: %w", err)
	}
	spec.Tty = true
	spec.Stdin, spec.Stdout, spec.Stderr = t.slave, t.slave, t.slave
	code, err := executor.Run(ctx, spec)
	t.wait()
	return code, err
}

// isTerminal reports whether the stream s is a terminal.
func isTerminal(s any) bool {
	f, ok := s.(*os.File)
	return ok && f != nil && term.IsTerminal(int(f.Fd()))
}

// newContainerID returns 12 random hex digits, the short ID docker gives a
// container and uses as its host name.
func newContainerID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// processOf returns the argv, environment, user and working directory of
// the container's process: the image config's, with opts' overrides.
func processOf(cfg *v1.Config, opts Options) (args, env []string, usr, wd string, err error) {
	entry := cfg.Entrypoint
	if opts.Entrypoint != nil {
		entry = opts.Entrypoint
	}
	cmd := cfg.Cmd
	if len(opts.Args) > 0 || opts.Entrypoint != nil {
		cmd = opts.Args
	}
	args = append(append([]string(nil), entry...), cmd...)
	if len(args) == 0 {
		return nil, nil, "", "", fmt.Errorf("run: the image %s has no CMD or ENTRYPOINT: give a command", opts.Image)
	}
	// As docker: HOSTNAME first, which the image's ENV and -e may change.
	env = append([]string{"HOSTNAME=" + opts.Hostname}, cfg.Env...)
	for _, kv := range opts.Env {
		k, _, _ := strings.Cut(kv, "=")
		env = setKey(env, k, kv)
	}
	usr = cfg.User
	if opts.User != "" {
		usr = opts.User
	}
	wd = cfg.WorkingDir
	if opts.Workdir != "" {
		wd = opts.Workdir
	}
	return args, env, usr, wd, nil
}

// snap is the container's snapshot, with what removes it.
type snap struct {
	*snapshot.Snapshot
	remove func()
}

// prepare makes the container's throwaway snapshot in dir.
func prepare(ctx context.Context, dir string, lowers []string, opts Options) (snap, error) {
	sn, err := snapshot.New(opts.Snapshotter, snapshot.Options{Dir: dir, Notice: func(msg string) {
		if opts.Stderr != nil {
			fmt.Fprintln(opts.Stderr, "strata: "+msg)
		}
	}})
	if err != nil {
		return snap{}, err
	}
	s, err := sn.Prepare(ctx, lowers)
	if err != nil {
		return snap{}, err
	}
	return snap{Snapshot: s, remove: func() { sn.Remove(s) }}, nil
}

func setKey(env []string, key, kv string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, key+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
