// Package container runs a command in an image, isolated the same way as a
// build's RUN, on a throwaway overlay that is removed when it exits.
package container

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/user"

	"github.com/strata-build/strata/internal/executor"
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
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Run runs the command and returns its exit status.
func Run(ctx context.Context, st *store.Store, opts Options) (int, error) {
	img, _, err := st.Image(opts.Image)
	if err != nil {
		return -1, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return -1, fmt.Errorf("run: reading the image config: %w", err)
	}
	unlock, err := st.RLock()
	if err != nil {
		return -1, err
	}
	defer unlock()
	dirs, err := st.LayerDirs(ctx, img)
	if err != nil {
		return -1, fmt.Errorf("run: extracting layers: %w", err)
	}
	lowers := make([]string, len(dirs))
	for i, d := range dirs {
		lowers[len(dirs)-1-i] = d.Path
	}
	args, env, u, wd, err := processOf(&cfg.Config, opts)
	if err != nil {
		return -1, err
	}
	dir, err := st.TempDir("container-")
	if err != nil {
		return -1, err
	}
	defer os.RemoveAll(dir)
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return -1, err
		}
	}
	uid, gid, groups, home, err := lookupUser(lowers, u)
	if err != nil {
		return -1, fmt.Errorf("run: %w", err)
	}
	if !hasKey(env, "HOME") {
		env = append(env, "HOME="+home)
	}
	hosts := filepath.Join(dir, "hosts")
	resolv := filepath.Join(dir, "resolv.conf")
	h, _ := os.ReadFile("/etc/hosts")
	r, _ := os.ReadFile("/etc/resolv.conf")
	if opts.Network == "none" {
		h, r = []byte("127.0.0.1\tlocalhost\n::1\tlocalhost\n"), nil
	}
	if err := os.WriteFile(hosts, h, 0o644); err != nil {
		return -1, err
	}
	if err := os.WriteFile(resolv, r, 0o644); err != nil {
		return -1, err
	}
	network := opts.Network
	if network == "" {
		network = "host"
	}
	if opts.Signals != nil {
		// The signals that would cancel ctx reach the process instead,
		// which decides when to exit (a trap may run).
		ctx = context.WithoutCancel(ctx)
	}
	return executor.Run(ctx, executor.RunSpec{
		Rootfs:     executor.Rootfs{Lower: lowers, Upper: upper, Work: work, Volatile: true}, // thrown away
		Args:       args,
		Env:        env,
		Dir:        wd,
		UID:        uid,
		GID:        gid,
		Groups:     groups,
		Network:    network,
		Hostname:   "strata",
		Stdin:      opts.Stdin,
		Stdout:     opts.Stdout,
		Stderr:     opts.Stderr,
		HostsFile:  hosts,
		ResolvConf: resolv,
		Security:   opts.Security,
		Signals:    opts.Signals,
	})
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
	env = append([]string(nil), cfg.Env...)
	if !hasKey(env, "PATH") {
		env = append(env, "PATH="+defaultPath)
	}
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
	if wd == "" {
		wd = "/"
	}
	return args, env, usr, wd, nil
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
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

// lookupUser resolves USER against the top-most /etc/passwd and /etc/group.
func lookupUser(lowers []string, spec string) (uid, gid int, groups []int, home string, err error) {
	if spec == "" {
		spec = "0"
	}
	if u, g, ok := strings.Cut(spec, ":"); ok {
		if a, err1 := strconv.Atoi(u); err1 == nil {
			if b, err2 := strconv.Atoi(g); err2 == nil {
				return a, b, nil, "/", nil
			}
		}
	}
	var passwd, group io.Reader
	if b := readTop(lowers, "etc/passwd"); b != nil {
		passwd = bytes.NewReader(b)
	}
	if b := readTop(lowers, "etc/group"); b != nil {
		group = bytes.NewReader(b)
	}
	eu, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, passwd, group)
	if err != nil {
		return 0, 0, nil, "", fmt.Errorf("user %q: %w", spec, err)
	}
	return eu.Uid, eu.Gid, eu.Sgids, eu.Home, nil
}

// readTop reads rel from the first layer dir that has it as a regular file.
func readTop(lowers []string, rel string) []byte {
	for _, d := range lowers {
		p := filepath.Join(d, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 10<<20 {
			return nil
		}
		return b
	}
	return nil
}
