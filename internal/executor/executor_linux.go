package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/strata-build/strata/internal/procspec"
)

// envSandbox marks a process started as the sandbox; its value is the mode.
const envSandbox = "STRATA_SANDBOX"

const (
	modeRun = "run"
	modeDo  = "do"
)

// childConfig is what the parent sends the sandbox on fd 3.
type childConfig struct {
	Mode   string
	Merged string // mount point of the root
	Empty  string // empty lowerdir for FROM scratch
	Rootfs Rootfs

	// Run mode.
	Args        []string
	Env         []string
	Dir         string
	UID, GID    int
	Groups      []int
	NetworkNone bool
	Hostname    string
	Mounts      []Mount
	HostsFile   string
	ResolvConf  string
	Insecure    bool // SecurityInsecure
	Trace       *TraceSpec
	ShmSize     int64
	Rlimits     []Rlimit
	Chroot      bool // IsolationChroot: no namespaces, no mounts
	ReadOnly    bool // the root is made read-only after the mounts
	Tty         bool // stdin is the command's controlling terminal

	// Do mode.
	Op  string
	Arg []byte
}

// childMsg is one message the sandbox sends back on fd 4.
type childMsg struct {
	Stubs   []string      `json:",omitempty"` // mount points created, relative to the root, parents first
	Exit    *int          `json:",omitempty"` // the command's exit status (run) or 0 (do)
	Error   string        `json:",omitempty"` // a sandbox failure
	OpError string        `json:",omitempty"` // the error the op returned (do)
	Paths   []string      `json:",omitempty"` // the paths a traced command used
	HTTP    *HTTPResponse `json:",omitempty"` // the answer to the HTTP probe
}

// Init runs the sandbox side and exits when the process was started as a
// sandbox; otherwise it returns at once. Call it first in main (and in
// TestMain of tests that use the sandbox).
func Init() {
	mode, ok := os.LookupEnv(envSandbox)
	if !ok {
		return
	}
	os.Unsetenv(envSandbox)
	os.Exit(childMain(mode))
}

// Run runs spec.Args in a new sandbox and returns its exit status (128+signal
// when the command was killed by a signal). The error reports a failure of
// the sandbox, or the cancellation of ctx (the sandbox is then killed), never
// a non-zero exit status.
func Run(ctx context.Context, spec RunSpec) (int, error) {
	res, err := runSandbox(ctx, spec, nil)
	return res.exit, err
}

// Trace runs spec.Args as Run does, traced: it returns the paths the
// command's processes used (see internal/trace) and, with tr.HTTP, the
// command's answer to an HTTP request. A path that could not be resolved
// is an error, never a silent gap in the trace.
func Trace(ctx context.Context, spec RunSpec, tr TraceSpec) (Traced, error) {
	res, err := runSandbox(ctx, spec, &tr)
	return Traced{Exit: res.exit, Paths: res.paths, HTTP: res.http}, err
}

// runSandbox runs spec in a new sandbox, traced when tr is not nil.
func runSandbox(ctx context.Context, spec RunSpec, tr *TraceSpec) (result, error) {
	res := result{exit: -1}
	if len(spec.Args) == 0 {
		return res, errors.New("executor: run: no command")
	}
	if err := checkRootfs(spec.Rootfs); err != nil {
		return res, err
	}
	none := false
	switch spec.Network {
	case "", "host":
	case "none":
		none = true
	default:
		return res, fmt.Errorf("executor: run: unknown network mode %q (want host or none)", spec.Network)
	}
	for _, m := range spec.Mounts {
		if m.Type != "bind" && m.Type != "tmpfs" && m.Type != "layers" {
			return res, fmt.Errorf("executor: run: mount on %s: unknown type %q (want bind, tmpfs or layers)", m.Target, m.Type)
		}
		if !filepath.IsAbs(m.Target) {
			return res, fmt.Errorf("executor: run: mount target %q is not absolute", m.Target)
		}
	}
	insecure := false
	switch spec.Security {
	case "", SecuritySandbox:
	case SecurityInsecure:
		insecure = true
	default:
		return res, fmt.Errorf("executor: run: unknown security mode %q (want sandbox or insecure)", spec.Security)
	}
	if spec.ShmSize < 0 {
		return res, fmt.Errorf("executor: run: /dev/shm size %d is negative", spec.ShmSize)
	}
	hostname := spec.Hostname
	if hostname == "" {
		hostname = procspec.Hostname
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	cfg := childConfig{
		Mode:        modeRun,
		Rootfs:      spec.Rootfs,
		Args:        spec.Args,
		Env:         spec.Env,
		Dir:         dir,
		UID:         spec.UID,
		GID:         spec.GID,
		Groups:      spec.Groups,
		NetworkNone: none,
		Hostname:    hostname,
		Mounts:      spec.Mounts,
		HostsFile:   spec.HostsFile,
		ResolvConf:  spec.ResolvConf,
		Insecure:    insecure,
		Trace:       tr,
		ShmSize:     spec.ShmSize,
		Rlimits:     spec.Rlimits,
		ReadOnly:    spec.ReadOnlyRoot,
		Tty:         spec.Tty,
	}
	flags := syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
	if none {
		flags |= syscall.CLONE_NEWNET
	}
	chroot, err := isChroot(spec.Isolation)
	if err != nil {
		return res, err
	}
	if chroot {
		return runChroot(ctx, spec, &cfg)
	}
	res, err = start(ctx, &cfg, uintptr(flags), streams{spec.Stdin, spec.Stdout, spec.Stderr, spec.Signals})
	if !spec.Rootfs.ReadOnly {
		// Even after a failure: the upper dir may be reused or inspected.
		if rerr := removeStubs(spec.Rootfs.Writable(), res.stubs); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		res.exit = -1
		return res, fmt.Errorf("running %s in sandbox: %w", spec.Args[0], err)
	}
	return res, nil
}

// Do runs the op registered as spec.Op in a new mount namespace with the
// rootfs mounted. The error the op returns comes back with its message
// intact; a failure of the sandbox itself is wrapped.
func Do(ctx context.Context, spec DoSpec) error {
	if _, ok := lookupOp(spec.Op); !ok {
		return fmt.Errorf("executor: unknown op %q", spec.Op)
	}
	if err := checkRootfs(spec.Rootfs); err != nil {
		return err
	}
	cfg := childConfig{Mode: modeDo, Rootfs: spec.Rootfs, Op: spec.Op, Arg: spec.Arg}
	chroot, err := isChroot(spec.Isolation)
	if err != nil {
		return err
	}
	flags := uintptr(syscall.CLONE_NEWNS)
	if chroot {
		if spec.Rootfs.Tree == "" {
			return errNeedsTree
		}
		cfg.Chroot, flags = true, 0
	}
	res, err := start(ctx, &cfg, flags, streams{stdout: spec.Stdout, stderr: spec.Stderr})
	if err != nil {
		return fmt.Errorf("running op %s in sandbox: %w", spec.Op, err)
	}
	if res.opErr != "" {
		return errors.New(res.opErr)
	}
	return nil
}

func checkRootfs(r Rootfs) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("executor: rootfs: %w", err)
	}
	return nil
}

// result is what start learnt from the sandbox.
type result struct {
	stubs []string
	exit  int
	opErr string
	paths []string
	http  *HTTPResponse
}

// mountDirs makes the mount point (and the empty lower dir) in a fresh
// directory next to the upper dir, or in the system's temporary directory for
// a read-only root, and sets them in cfg. cleanup removes them.
func mountDirs(cfg *childConfig) (cleanup func(), err error) {
	base := os.TempDir()
	if !cfg.Rootfs.ReadOnly {
		base = filepath.Dir(filepath.Clean(cfg.Rootfs.Writable()))
	}
	tmp, err := os.MkdirTemp(base, "sandbox-")
	if err != nil {
		return nil, fmt.Errorf("creating mount point: %w", err)
	}
	// os.Remove, never RemoveAll: should a mount ever be visible here, a
	// recursive removal would go through it into the layers.
	cleanup = func() {
		if cfg.Empty != "" {
			os.Remove(cfg.Empty)
		}
		os.Remove(cfg.Merged)
		os.Remove(tmp)
	}
	cfg.Merged = filepath.Join(tmp, "merged")
	if err := os.Mkdir(cfg.Merged, 0o755); err != nil {
		cleanup()
		return nil, fmt.Errorf("creating mount point: %w", err)
	}
	if len(cfg.Rootfs.Lower) == 0 || (cfg.Rootfs.ReadOnly && len(cfg.Rootfs.Lower) == 1) {
		cfg.Empty = filepath.Join(tmp, "empty")
		if err := os.Mkdir(cfg.Empty, 0o755); err != nil {
			cleanup()
			return nil, fmt.Errorf("creating empty lower dir: %w", err)
		}
	}
	return cleanup, nil
}

// streams are what connects a sandbox to its caller: the command's stdio,
// and signals to forward to its init (nil: none).
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	signals        <-chan os.Signal
}

// start runs the sandbox for cfg and waits for it.
func start(ctx context.Context, cfg *childConfig, cloneflags uintptr, sio streams) (result, error) {
	stdin, stdout, stderr := sio.stdin, sio.stdout, sio.stderr
	var res result
	if cfg.Chroot {
		cfg.Merged = cfg.Rootfs.Tree // mounted nowhere: used in place
	} else {
		cleanup, err := mountDirs(cfg)
		if err != nil {
			return res, err
		}
		defer cleanup()
	}
	conf, err := json.Marshal(cfg)
	if err != nil {
		return res, fmt.Errorf("encoding sandbox config: %w", err)
	}

	confR, confW, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("creating config pipe: %w", err)
	}
	defer confR.Close()
	defer confW.Close()
	statR, statW, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("creating status pipe: %w", err)
	}
	defer statR.Close()
	defer statW.Close()

	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{"strata-sandbox"}
	cmd.Env = append(withoutVar(os.Environ(), envSandbox), envSandbox+"="+cfg.Mode)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if stdout == nil {
		cmd.Stdout = io.Discard
	}
	if stderr == nil {
		cmd.Stderr = io.Discard
	}
	cmd.ExtraFiles = []*os.File{confR, statW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: cloneflags,
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	// Killing PID 1 of the sandbox's PID namespace kills the whole tree, and
	// its mounts go with its mount namespace.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	// Stdin copying may block on a reader that never ends.
	cmd.WaitDelay = 2 * time.Second

	// Pdeathsig fires when the thread that started the child exits: keep
	// that thread for this goroutine until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting sandbox: %w", err)
	}
	confR.Close()
	statW.Close()

	go func() {
		confW.Write(conf) // an error shows as the child's failure
		confW.Close()
	}()
	msgs := make(chan []childMsg, 1)
	go func() { msgs <- readMessages(statR) }()
	done := make(chan struct{})
	defer close(done)
	if sio.signals != nil {
		go forward(sio.signals, cmd.Process, done)
	}

	werr := cmd.Wait()
	return interpret(ctx, <-msgs, werr)
}

// ForwardedSignals are the signals a sandbox's init passes on to its
// command, and that a caller may pass on to the init (RunSpec.Signals):
// every catchable one but those the init needs (SIGCHLD), the Go runtime
// uses (SIGURG, SIGPROF), that report a fault of the process itself
// (SIGPIPE, SIGSYS, SIGXCPU, SIGXFSZ) or that would stop it (SIGTSTP,
// SIGTTIN, SIGTTOU), as docker run's --sig-proxy.
func ForwardedSignals() []os.Signal {
	return []os.Signal{
		syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGALRM, syscall.SIGTERM, syscall.SIGCONT, syscall.SIGWINCH,
		syscall.SIGIO, syscall.SIGPWR, syscall.SIGVTALRM,
	}
}

// forward passes every signal from sigs to p until done is closed.
func forward(sigs <-chan os.Signal, p *os.Process, done <-chan struct{}) {
	for {
		select {
		case s := <-sigs:
			p.Signal(s) // an error means the sandbox has just exited
		case <-done:
			return
		}
	}
}

// interpret turns the sandbox's messages and exit into a result.
func interpret(ctx context.Context, msgs []childMsg, werr error) (result, error) {
	var res result
	var final *childMsg
	for _, m := range msgs {
		res.stubs = append(res.stubs, m.Stubs...)
		res.paths = append(res.paths, m.Paths...)
		if m.HTTP != nil {
			res.http = m.HTTP
		}
		if m.Exit != nil || m.Error != "" || m.OpError != "" {
			final = &m
		}
	}
	switch {
	case final == nil && ctx.Err() != nil:
		return res, ctx.Err()
	case final == nil:
		if werr == nil {
			werr = errors.New("no result")
		}
		return res, fmt.Errorf("sandbox died: %w", werr)
	case final.Error != "":
		return res, errors.New(final.Error)
	case final.OpError != "":
		res.opErr = final.OpError
		return res, nil
	}
	res.exit = *final.Exit
	return res, nil
}

// readMessages decodes the sandbox's messages until the pipe closes.
func readMessages(r io.Reader) []childMsg {
	var all []childMsg
	dec := json.NewDecoder(r)
	for {
		var m childMsg
		if err := dec.Decode(&m); err != nil {
			return all
		}
		all = append(all, m)
	}
}

func withoutVar(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// removeStubs removes from upper the mount point stubs the sandbox created,
// deepest first, when they are still an empty file or an empty directory.
func removeStubs(upper string, stubs []string) error {
	for i := len(stubs) - 1; i >= 0; i-- {
		rel := filepath.Clean(stubs[i])
		if rel == "." || filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		p := filepath.Join(upper, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return fmt.Errorf("removing mount point stub %s: %w", rel, err)
		}
		switch {
		case fi.Mode().IsRegular() && fi.Size() == 0:
		case fi.IsDir():
			if empty, err := isEmptyDir(p); err != nil || !empty {
				continue
			}
		default:
			continue
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing mount point stub %s: %w", rel, err)
		}
	}
	return nil
}

func isEmptyDir(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}
