package rootless

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// envChild marks the re-executed child. Its value is "sync" in the first
// stage, which waits on descriptor 3 for the mappings, and then "mapped:PPID"
// in the second: the first stage re-executes itself once mapped, because the
// execve that started it ran before uid 0 existed in the namespace, which
// left it without capabilities; an execve as uid 0 of the namespace gives it
// all of them there.
const envChild = "_STRATA_ROOTLESS"

// childSyncFD is the child's descriptor of the sync pipe (ExtraFiles[0]).
const childSyncFD = 3

// Enter returns at once for root, and in the child it started. For any other
// user it checks the setup, re-executes strata in a new user and mount
// namespace mapped through /etc/subuid and /etc/subgid, waits for it and
// exits with its status: then it never returns. The error says what to
// install or configure when the setup is missing.
func Enter(opts Options) error {
	if v, ok := os.LookupEnv(envChild); ok {
		return child(v)
	}
	if os.Geteuid() == 0 {
		return nil
	}
	setup, err := Check()
	if err != nil {
		return err
	}
	code, err := reexec(setup.mapIDs, opts, nil)
	if err != nil {
		return err
	}
	os.Exit(code)
	return nil
}

// child runs the child's stage named by the value of envChild.
func child(stage string) error {
	if ppid, ok := strings.CutPrefix(stage, "mapped:"); ok {
		os.Unsetenv(envChild)
		// The capabilities gained by the execve cleared the parent-death
		// signal: set it again, then make sure the parent did not die first.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
			return fmt.Errorf("rootless: setting the parent-death signal: %w", err)
		}
		if strconv.Itoa(os.Getppid()) != ppid {
			os.Exit(1)
		}
		if os.Geteuid() != 0 {
			return errors.New("rootless: the user namespace has no mapping for uid 0")
		}
		return nil
	}
	if stage != "sync" {
		return fmt.Errorf("rootless: bad %s=%q", envChild, stage)
	}
	f := os.NewFile(childSyncFD, "rootless-sync")
	var b [1]byte
	if n, _ := f.Read(b[:]); n != 1 {
		// The parent failed and reports why; stay quiet.
		os.Exit(1)
	}
	f.Close()
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	env := append(withoutVar(os.Environ(), envChild), envChild+"=mapped:"+strconv.Itoa(os.Getppid()))
	if err := unix.Exec("/proc/self/exe", os.Args, env); err != nil {
		return fmt.Errorf("rootless: re-executing %s in the user namespace: %w", exe, err)
	}
	return nil
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

// reexec starts the child with env added to strata's, maps its ids with
// mapIDs, and returns its exit status.
func reexec(mapIDs func(pid int) error, opts Options, env []string) (int, error) {
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("rootless: creating sync pipe: %w", err)
	}
	defer syncR.Close()
	defer syncW.Close()

	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(withoutVar(os.Environ(), envChild), envChild+"=sync")
	cmd.Env = append(cmd.Env, env...)
	if opts.Root != "" && os.Getenv("STRATA_ROOT") == "" {
		cmd.Env = append(cmd.Env, "STRATA_ROOT="+opts.Root)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{syncR}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	// Pdeathsig fires when the thread that started the child exits.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Signals to the parent are forwarded; a terminal's reach the child
	// twice, which strata's cancellation takes in its stride.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, startError(err)
	}
	syncR.Close()
	if err := mapIDs(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, err
	}
	if _, err := syncW.Write([]byte{1}); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, fmt.Errorf("rootless: signalling the child: %w", err)
	}
	syncW.Close()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, fmt.Errorf("rootless: waiting for the child: %w", err)
}

// startError explains why the kernel refused a user namespace.
func startError(err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("rootless: creating a user namespace: %w; the kernel forbids unprivileged user namespaces here: "+
			"enable them with `sysctl -w kernel.unprivileged_userns_clone=1` (Debian kernels before 6.1) "+
			"or lift the AppArmor restriction with `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or run strata as root", err)
	case errors.Is(err, unix.ENOSPC):
		return fmt.Errorf("rootless: creating a user namespace: %w; raise the limit with `sysctl -w user.max_user_namespaces=15000`", err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("rootless: creating a user namespace: %w; the kernel lacks user namespaces (CONFIG_USER_NS): run strata as root", err)
	}
	return fmt.Errorf("rootless: starting the user namespace: %w", err)
}

// mapIDs writes the uid and gid mappings of pid with newuidmap and newgidmap.
func (s *Setup) mapIDs(pid int) error {
	p := strconv.Itoa(pid)
	uid := []string{p, "0", strconv.Itoa(s.UID), "1", "1", strconv.Itoa(s.SubUID.Start), strconv.Itoa(s.SubUID.Count)}
	gid := []string{p, "0", strconv.Itoa(s.GID), "1", "1", strconv.Itoa(s.SubGID.Start), strconv.Itoa(s.SubGID.Count)}
	for _, c := range []struct {
		tool, file string
		args       []string
	}{{s.NewUIDMap, "/etc/subuid", uid}, {s.NewGIDMap, "/etc/subgid", gid}} {
		var out bytes.Buffer
		cmd := exec.Command(c.tool, c.args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(out.String())
			return fmt.Errorf("rootless: %s %s: %w: %s (check that %s gives user %s that range, and that %s is setuid root, as Debian's uidmap package installs it; inside a container without CAP_SYS_ADMIN a setuid helper is refused: give it file capabilities instead, setcap cap_setuid+ep or cap_setgid+ep, see docs/unprivileged.md)",
				c.tool, strings.Join(c.args, " "), err, msg, c.file, s.User, c.tool)
		}
	}
	return nil
}

// InUserNamespace reports whether the process runs in a user namespace other
// than the initial one (its uid map is not the identity over every uid).
func InUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// OverlayXattrPrefix returns the xattr prefix overlayfs uses for its markers
// (the opaque directory's "opaque") in this process: "user.overlay." inside a
// user namespace, where overlay must be mounted with the userxattr option,
// or without CAP_SYS_ADMIN, and "trusted.overlay." otherwise.
func OverlayXattrPrefix() string {
	if InUserNamespace() || !hasSysAdmin() {
		return "user.overlay."
	}
	return "trusted.overlay."
}

// hasSysAdmin reports whether the calling thread holds CAP_SYS_ADMIN, which
// trusted.* xattrs need: a root strata in a container with docker's
// default capabilities lacks it, and marks opaque directories with
// user.overlay.opaque, as rootless strata does.
func hasSysAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return true // as before: trusted.overlay.
	}
	return data[0].Effective&(1<<unix.CAP_SYS_ADMIN) != 0
}

// readSmall reads a small /proc or /etc file; a missing file reads as empty.
func readSmall(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b), err
}
