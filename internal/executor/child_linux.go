package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/procspec"
)

// childMain is the sandbox's main: it reads the config from fd 3, reports on
// fd 4 and returns the process's exit status.
func childMain(mode string) int {
	unix.CloseOnExec(3)
	unix.CloseOnExec(4)
	status := os.NewFile(4, "status")
	enc := json.NewEncoder(status) // one Write per message
	send := func(m childMsg) { enc.Encode(m) }
	fail := func(err error) int {
		send(childMsg{Error: err.Error()})
		return 1
	}

	var cfg childConfig
	conf := os.NewFile(3, "config")
	if err := json.NewDecoder(conf).Decode(&cfg); err != nil {
		return fail(fmt.Errorf("reading sandbox config: %w", err))
	}
	conf.Close()
	if cfg.Mode != mode {
		return fail(fmt.Errorf("sandbox started as %q with a %q config", mode, cfg.Mode))
	}
	unix.Umask(0o022)
	if !cfg.Chroot {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fail(fmt.Errorf("making mounts private: %w", err))
		}
		if err := mountRoot(&cfg); err != nil {
			return fail(err)
		}
	}

	switch mode {
	case modeDo:
		if msg := callOp(&cfg); msg != "" {
			send(childMsg{OpError: msg})
			return 1
		}
		zero := 0
		send(childMsg{Exit: &zero})
		return 0
	case modeRun:
		st := &stubMaker{root: cfg.Merged}
		setup := setupRun
		if cfg.Chroot {
			setup = setupChroot
		}
		err := setup(&cfg, st)
		send(childMsg{Stubs: st.created}) // before anything can kill us
		if err != nil {
			return fail(err)
		}
		code, traced := runCommand(&cfg)
		if traced != nil {
			send(*traced)
			if traced.Error != "" {
				return 1
			}
		}
		send(childMsg{Exit: &code})
		return code
	}
	return fail(fmt.Errorf("unknown sandbox mode %q", mode))
}

// callOp runs the op and returns its error message, if any.
func callOp(cfg *childConfig) (msg string) {
	op, ok := lookupOp(cfg.Op)
	if !ok {
		return fmt.Sprintf("executor: unknown op %q", cfg.Op)
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
	defer stop()
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprintf("op %s panicked: %v", cfg.Op, r)
		}
	}()
	if err := op(ctx, cfg.Merged, cfg.Arg, os.Stdout); err != nil {
		if err.Error() == "" {
			return fmt.Sprintf("op %s failed", cfg.Op)
		}
		return err.Error()
	}
	return ""
}

// setupRun mounts the system file systems and the extra mounts into the
// root, pivots into it and prepares hostname, network and working dir.
func setupRun(cfg *childConfig, st *stubMaker) error {
	root := cfg.Merged
	// Without a device cgroup, nodev is what keeps a command with
	// CAP_MKNOD from opening the host's disks through a node it makes: the
	// node can be created (and end up in the layer), not opened.
	var nodev uint64
	if !cfg.Insecure {
		nodev = unix.MOUNT_ATTR_NODEV
		if err := unix.MountSetattr(unix.AT_FDCWD, root, 0, &unix.MountAttr{Attr_set: nodev}); err != nil {
			return fmt.Errorf("making the root nodev: %w", err)
		}
	}
	p, err := st.dir("/proc")
	if err != nil {
		return err
	}
	if err := mountProc(p); err != nil {
		return err
	}
	if p, err = st.dir("/dev"); err != nil {
		return err
	}
	if err := mountDev(p, nodev != 0, cfg.ShmSize); err != nil {
		return err
	}
	if p, err = st.dir("/sys"); err != nil {
		return err
	}
	if err := mountSys(p, !cfg.Insecure); err != nil {
		return err
	}
	if !cfg.Insecure {
		if err := maskPaths(root); err != nil {
			return err
		}
	}
	for _, f := range []struct{ src, dst string }{{cfg.HostsFile, "/etc/hosts"}, {cfg.ResolvConf, "/etc/resolv.conf"}} {
		if f.src == "" {
			continue
		}
		m := Mount{Type: "bind", Source: f.src, Target: f.dst}
		if err := mountExtra(st, m, nodev); err != nil {
			return err
		}
	}
	for _, m := range cfg.Mounts {
		if err := mountExtra(st, m, nodev); err != nil {
			return err
		}
	}
	if err := pivot(root); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fmt.Errorf("setting hostname: %w", err)
	}
	if cfg.NetworkNone {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("creating working dir: %w", err)
	}
	if err := os.Chdir(cfg.Dir); err != nil {
		return fmt.Errorf("entering working dir: %w", err)
	}
	if cfg.ReadOnly {
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(unix.AT_FDCWD, "/", 0, attr); err != nil {
			return fmt.Errorf("making the root read-only: %w", err)
		}
	}
	return nil
}

// runCommand starts the command as a child of the sandbox init, forwards
// signals to it, reaps every process until it exits, and returns its status;
// for a traced run, also the message with what the trace saw.
func runCommand(cfg *childConfig) (int, *childMsg) {
	name := cfg.Args[0]
	path, ok := lookPath(name, cfg.Env)
	if !ok {
		fmt.Fprintf(os.Stderr, "strata: exec: %q: executable file not found in $PATH\n", name)
		return 127, nil
	}
	groups := make([]uint32, len(cfg.Groups))
	for i, g := range cfg.Groups {
		groups[i] = uint32(g)
	}
	env := cfg.Env
	if env == nil {
		env = []string{} // nil would pass the sandbox's own environment
	}
	// The command inherits the limits and the confinement of the thread
	// that starts it.
	runtime.LockOSThread() // for good: the init exits when the command is done
	for _, l := range cfg.Rlimits {
		if err := unix.Setrlimit(l.Resource, &unix.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			fmt.Fprintf(os.Stderr, "strata: setting ulimit %d to %d:%d for %q: %v\n", l.Resource, l.Soft, l.Hard, name, err)
			return 126, nil
		}
	}
	if err := confine(confineOptions{Insecure: cfg.Insecure, Tracer: cfg.Trace != nil}); err != nil {
		fmt.Fprintf(os.Stderr, "strata: confining %q: %v\n", name, err)
		return 126, nil
	}
	cmd := &exec.Cmd{
		Path:   path,
		Args:   cfg.Args,
		Env:    env,
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.GID), Groups: groups},
			Setsid:     true,
			Ptrace:     cfg.Trace != nil,
			Setctty:    cfg.Tty, // Ctty 0: stdin
		},
	}
	if cfg.Chroot {
		// No PID namespace takes the command down with the init.
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if cfg.Insecure && cfg.UID != 0 {
		// As BuildKit's insecure mode: a non-root USER keeps every
		// capability too, as ambient ones.
		cmd.SysProcAttr.AmbientCaps = allCaps()
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, ForwardedSignals()...)
	if err := cmd.Start(); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			err = errno
		}
		fmt.Fprintf(os.Stderr, "strata: exec: %q: %v\n", name, err)
		if errors.Is(err, unix.ENOENT) {
			return 127, nil
		}
		return 126, nil
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	pid := cmd.Process.Pid
	if cfg.Trace != nil {
		return traceCommand(cfg, pid, path)
	}
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "strata: waiting for %q: %v\n", name, err)
			return 255, nil
		}
		if got != pid {
			continue // an orphan, reaped
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), nil
	}
}

// lookPath finds name in the PATH of env, in the current root.
func lookPath(name string, env []string) (string, bool) {
	if strings.Contains(name, "/") {
		return name, true
	}
	pathList := procspec.DefaultPath // the spec's Env has no PATH, as in Docker
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathList = v
		}
	}
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			if !strings.Contains(p, "/") {
				p = "./" + p
			}
			return p, true
		}
	}
	return "", false
}

// stubMaker creates missing mount points inside root and records them.
type stubMaker struct {
	root    string
	created []string // relative to root, parents first
}

func (s *stubMaker) dir(target string) (string, error)  { return s.make(target, true) }
func (s *stubMaker) file(target string) (string, error) { return s.make(target, false) }

// make resolves target inside the root (symlinks cannot lead out of it) and
// creates what is missing of it: directories, then a directory or an empty
// file.
func (s *stubMaker) make(target string, dir bool) (string, error) {
	p, err := securejoin.SecureJoin(s.root, target)
	if err != nil {
		return "", fmt.Errorf("resolving mount point %s: %w", target, err)
	}
	rel, err := filepath.Rel(s.root, p)
	if err != nil {
		return "", fmt.Errorf("resolving mount point %s: %w", target, err)
	}
	if rel == "." {
		if !dir {
			return "", fmt.Errorf("creating mount point %s: the root is a directory", target)
		}
		return p, nil
	}
	parts := strings.Split(rel, string(filepath.Separator))
	cur := s.root
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		last := i == len(parts)-1
		fi, err := os.Lstat(cur)
		if err == nil {
			if !last && !fi.IsDir() {
				return "", fmt.Errorf("creating mount point %s: %s is not a directory", target, filepath.Join(parts[:i+1]...))
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("creating mount point %s: %w", target, err)
		}
		if !last || dir {
			err = os.Mkdir(cur, 0o755)
		} else {
			var f *os.File
			if f, err = os.OpenFile(cur, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
				err = f.Close()
			}
		}
		if err != nil {
			return "", fmt.Errorf("creating mount point %s: %w", target, err)
		}
		s.created = append(s.created, filepath.Join(parts[:i+1]...))
	}
	return p, nil
}

// mountDev mounts a tmpfs on dev with the usual nodes, bound from the host's
// onto empty files (which works in a user namespace too, where mknod does
// not), and a tmpfs of shmSize bytes (0: DefaultShmSize) on /dev/shm. With
// nodev, nodes made later in the tmpfs cannot be opened; the bind
// mounts keep the host /dev's flags, so the usual nodes still work.
func mountDev(dev string, nodev bool, shmSize int64) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_STRICTATIME)
	if nodev {
		flags |= unix.MS_NODEV
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", flags, "mode=755,size=65536k"); err != nil {
		return fmt.Errorf("mounting /dev: %w", err)
	}
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		src := "/dev/" + name
		if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		dst := filepath.Join(dev, name)
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err != nil {
			return fmt.Errorf("creating /dev/%s: %w", name, err)
		}
		f.Close()
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mounting /dev/%s: %w", name, err)
		}
	}
	pts := filepath.Join(dev, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return fmt.Errorf("creating /dev/pts: %w", err)
	}
	if err := unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		return fmt.Errorf("mounting /dev/pts: %w", err)
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return fmt.Errorf("creating /dev/shm: %w", err)
	}
	if shmSize == 0 {
		shmSize = DefaultShmSize
	}
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, fmt.Sprintf("mode=1777,size=%d", shmSize)); err != nil {
		return fmt.Errorf("mounting /dev/shm: %w", err)
	}
	for name, target := range map[string]string{
		"ptmx":   "pts/ptmx",
		"fd":     "/proc/self/fd",
		"stdin":  "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", name, err)
		}
	}
	return nil
}

// mountProc mounts a proc of the sandbox's PID namespace on p or, where
// the kernel refuses it (in a user namespace, when the outer /proc has
// paths masked, as docker masks a container's), a recursive bind of the
// outer /proc, masks included: it shows the outer PID namespace's
// processes.
func mountProc(p string) error {
	err := unix.Mount("proc", p, "proc", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	if err := unix.Mount("/proc", p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mounting /proc (a bind of the outer one, as a new one was refused): %w", err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}
	if err := unix.MountSetattr(unix.AT_FDCWD, p, unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("setting the flags of /proc: %w", err)
	}
	return nil
}

// mountSys mounts a sysfs on sys, read-only when readOnly is set, or, when
// the kernel refuses (the network namespace is not ours), a recursive bind of
// the host's.
func mountSys(sys string, readOnly bool) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}
	if readOnly {
		flags |= unix.MS_RDONLY
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.Mount("sysfs", sys, "sysfs", flags, ""); err == nil {
		return nil
	}
	if err := unix.Mount("/sys", sys, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mounting /sys: %w", err)
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, sys, unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("setting the flags of /sys: %w", err)
	}
	return nil
}

// Paths hidden and made read-only as runc's default spec does (not in
// SecurityInsecure mode). Without CAP_SYS_ADMIN, and with mount and umount
// refused by seccomp, the command cannot undo them.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

func maskPaths(root string) error {
	for _, rel := range maskedPaths {
		p := filepath.Join(root, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
		} else {
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("masking %s: %w", rel, err)
		}
	}
	for _, rel := range readonlyPaths {
		p := filepath.Join(root, rel)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", rel, err)
		}
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}
		if err := unix.MountSetattr(unix.AT_FDCWD, p, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("making %s read-only: %w", rel, err)
		}
	}
	return nil
}

// mountExtra makes one bind or tmpfs mount inside the root, with the mount
// attributes in attr (MOUNT_ATTR_NODEV in sandbox mode) added.
func mountExtra(st *stubMaker, m Mount, attr uint64) error {
	if m.ReadOnly {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	var data []string
	for _, o := range m.Options {
		switch o {
		case "ro":
			attr |= unix.MOUNT_ATTR_RDONLY
		case "rw":
		case "nosuid":
			attr |= unix.MOUNT_ATTR_NOSUID
		case "nodev":
			attr |= unix.MOUNT_ATTR_NODEV
		case "noexec":
			attr |= unix.MOUNT_ATTR_NOEXEC
		default:
			data = append(data, o)
		}
	}
	var p string
	switch m.Type {
	case "bind":
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("mounting %s on %s: %w", m.Source, m.Target, err)
		}
		if fi.IsDir() {
			p, err = st.dir(m.Target)
		} else {
			p, err = st.file(m.Target)
		}
		if err != nil {
			return err
		}
		if err := unix.Mount(m.Source, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", m.Source, m.Target, err)
		}
	case "tmpfs":
		var err error
		if p, err = st.dir(m.Target); err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, strings.Join(data, ",")); err != nil {
			return fmt.Errorf("mounting tmpfs on %s: %w", m.Target, err)
		}
	case "layers":
		if m.Sub != "" && m.Sub != "/" {
			var err error
			if p, err = mountLayersSub(st, m); err != nil {
				return fmt.Errorf("mounting layers on %s: %w", m.Target, err)
			}
			break
		}
		var err error
		if p, err = st.dir(m.Target); err != nil {
			return err
		}
		if err := mountLayers(m, p); err != nil {
			return fmt.Errorf("mounting layers on %s: %w", m.Target, err)
		}
	default:
		return fmt.Errorf("mounting on %s: unknown mount type %q", m.Target, m.Type)
	}
	if attr != 0 {
		if err := unix.MountSetattr(unix.AT_FDCWD, p, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr}); err != nil {
			return fmt.Errorf("setting options of the mount on %s: %w", m.Target, err)
		}
	}
	return nil
}

// pivot makes root the process's root and detaches the old one.
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("entering the root: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on the new one, which then
	// needs no directory of its own in the image.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivoting into the root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("entering the root: %w", err)
	}
	return nil
}

// loopbackUp brings lo up in a new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}
