package executor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// errNeedsTree is returned for chroot isolation over an overlay snapshot.
var errNeedsTree = errors.New("executor: chroot isolation needs the native snapshotter (--snapshotter native): an overlay cannot be mounted without mount namespaces")

// isChroot reports whether iso is chroot isolation; auto must have been
// resolved by the caller (Probe).
func isChroot(iso Isolation) (bool, error) {
	switch iso {
	case "", IsolationNamespaces:
		return false, nil
	case IsolationChroot:
		return true, nil
	}
	return false, fmt.Errorf("executor: isolation %q: want %s or %s (resolve %s with Probe)", iso, IsolationNamespaces, IsolationChroot, IsolationAuto)
}

// Probe reports whether a sandbox's namespaces can be made here: a thread
// of its own enters new mount, PID, IPC and UTS namespaces and makes its
// mounts private, as a RUN's sandbox does first, and is then thrown away.
// The error says what refused it (docker's default seccomp profile refuses
// the namespaces with EPERM to a process without CAP_SYS_ADMIN).
func Probe(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, in namespaces of its own, ends with
		// the goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS); err != nil {
			errc <- fmt.Errorf("namespaces refused: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("mount refused in a new mount namespace: %w", err)
			return
		}
		errc <- nil
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runChroot runs cfg in chroot isolation: what it cannot do is refused
// with the way out; /etc/hosts, /etc/resolv.conf and the /dev nodes are put
// in the tree for the run, and what was there put back.
func runChroot(ctx context.Context, spec RunSpec, cfg *childConfig) (result, error) {
	failed := result{exit: -1}
	switch {
	case spec.Rootfs.Tree == "":
		return failed, errNeedsTree
	case spec.Rootfs.ReadOnly:
		return failed, errors.New("executor: chroot isolation cannot make the root read-only: use --isolation namespaces")
	case cfg.NetworkNone:
		return failed, errors.New("executor: network none needs a network namespace, which chroot isolation cannot make: use --isolation namespaces, or the host network")
	case cfg.ShmSize != 0:
		return failed, errors.New("executor: chroot isolation cannot size /dev/shm (it mounts nothing): use --isolation namespaces, or drop --shm-size")
	case cfg.Trace != nil:
		return failed, errors.New("executor: chroot isolation cannot trace a command (the tracer runs in the sandbox's init): use --isolation namespaces")
	case len(cfg.Mounts) > 0:
		return failed, fmt.Errorf("executor: chroot isolation cannot mount %s (RUN --mount needs mount namespaces): use --isolation namespaces", cfg.Mounts[0].Target)
	}
	cfg.Chroot = true
	tc := &treeChanges{tree: spec.Rootfs.Tree, dirTimes: map[string]dirTime{}}
	err := tc.place(cfg.HostsFile, cfg.ResolvConf)
	cfg.HostsFile, cfg.ResolvConf = "", ""
	var res result
	if err == nil {
		res, err = start(ctx, cfg, 0, streams{spec.Stdin, spec.Stdout, spec.Stderr, spec.Signals})
	}
	if uerr := tc.undo(); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return failed, fmt.Errorf("running %s in chroot: %w", spec.Args[0], err)
	}
	return res, nil
}

// chrootDevices are the /dev nodes a command in chroot isolation gets when
// the tree lacks them: those docker's device cgroup lets a container use.
var chrootDevices = []struct {
	name         string
	major, minor uint32
}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}

// dirTime is a directory's mtime before strata touched it (old) and right
// after (ours).
type dirTime struct{ old, ours unix.Timespec }

// treeChanges are what strata put into a native tree for a chroot run,
// undone afterwards so that the layer does not capture them.
type treeChanges struct {
	tree     string
	created  []string           // paths made, parents first
	saved    map[string][]byte  // replaced files' old content
	dirTimes map[string]dirTime // directories whose entries strata changed
	undos    []func() error
}

// place puts the /dev nodes the tree lacks, and the host files onto
// /etc/hosts and /etc/resolv.conf (as the namespaces isolation binds them).
func (tc *treeChanges) place(hosts, resolv string) error {
	if err := tc.placeDevices(); err != nil {
		return err
	}
	for _, f := range []struct{ src, rel string }{{hosts, "etc/hosts"}, {resolv, "etc/resolv.conf"}} {
		if f.src == "" {
			continue
		}
		if err := tc.placeFile(f.rel, f.src); err != nil {
			return err
		}
	}
	return tc.noteOurs()
}

// touchDir records the mtime of dir before strata changes an entry of it.
func (tc *treeChanges) touchDir(dir string) error {
	if _, ok := tc.dirTimes[dir]; ok {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	tc.dirTimes[dir] = dirTime{old: st.Mtim}
	return nil
}

// noteOurs records the mtimes of the changed directories as strata left
// them: a directory the command changes too keeps the command's mtime.
func (tc *treeChanges) noteOurs() error {
	for dir, t := range tc.dirTimes {
		var st unix.Stat_t
		if err := unix.Lstat(dir, &st); err != nil {
			return fmt.Errorf("reading %s: %w", dir, err)
		}
		t.ours = st.Mtim
		tc.dirTimes[dir] = t
	}
	return nil
}

func (tc *treeChanges) placeDevices() error {
	dev, err := securejoin.SecureJoin(tc.tree, "dev")
	if err != nil {
		return fmt.Errorf("resolving /dev: %w", err)
	}
	if fi, err := os.Lstat(dev); errors.Is(err, fs.ErrNotExist) {
		if err := tc.touchDir(tc.tree); err != nil {
			return err
		}
		if err := os.Mkdir(dev, 0o755); err != nil {
			return fmt.Errorf("making /dev: %w", err)
		}
		tc.created = append(tc.created, dev)
	} else if err != nil || !fi.IsDir() {
		return fmt.Errorf("making /dev nodes: /dev is not a directory (%v)", err)
	}
	for _, d := range chrootDevices {
		p := filepath.Join(dev, d.name)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := tc.touchDir(dev); err != nil {
			return err
		}
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("making /dev/%s: %w", d.name, err)
		}
		tc.created = append(tc.created, p)
		if err := os.Chmod(p, 0o666); err != nil { // past the umask
			return fmt.Errorf("making /dev/%s: %w", d.name, err)
		}
	}
	return nil
}

// placeFile copies the host file src onto rel in the tree. A symlink or a
// directory at rel, or a missing parent, is left alone: the image's wins.
func (tc *treeChanges) placeFile(rel, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	p, err := securejoin.SecureJoin(tc.tree, rel)
	if err != nil {
		return fmt.Errorf("resolving /%s: %w", rel, err)
	}
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if fi, err := os.Lstat(filepath.Dir(p)); err != nil || !fi.IsDir() {
			return nil // no /etc: nothing to put it in
		}
		if err := tc.touchDir(filepath.Dir(p)); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("placing /%s: %w", rel, err)
		}
		tc.created = append(tc.created, p)
		return nil
	case err != nil:
		return fmt.Errorf("placing /%s: %w", rel, err)
	case !fi.Mode().IsRegular():
		return nil
	}
	old, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("saving /%s: %w", rel, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.WriteFile(p, data, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("placing /%s: %w", rel, err)
	}
	tc.undos = append(tc.undos, func() error {
		if err := os.WriteFile(p, old, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("restoring /%s: %w", rel, err)
		}
		ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("restoring /%s: %w", rel, err)
		}
		return nil
	})
	return nil
}

// undo puts the tree back: replaced files get their content and mtime,
// what strata made (still a device node, an empty directory or a regular
// file) is removed, and directories the command did not change after
// strata get their old mtime back.
func (tc *treeChanges) undo() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, u := range tc.undos {
		keep(u())
	}
	untouched := map[string]bool{}
	for dir, t := range tc.dirTimes {
		var st unix.Stat_t
		untouched[dir] = unix.Lstat(dir, &st) == nil && st.Mtim == t.ours
	}
	for i := len(tc.created) - 1; i >= 0; i-- {
		keep(removeMade(tc.created[i]))
	}
	for dir, t := range tc.dirTimes {
		if !untouched[dir] {
			continue
		}
		ts := []unix.Timespec{t.old, t.old}
		err := unix.UtimesNanoAt(unix.AT_FDCWD, dir, ts, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil && !errors.Is(err, unix.ENOENT) { // a /dev strata made and removed
			keep(fmt.Errorf("restoring the time of %s: %w", dir, err))
		}
	}
	return first
}

// removeMade removes p, which strata made, when it is still a device
// node, a regular file or an empty directory: what the command put in its
// place stays.
func removeMade(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	switch {
	case fi.Mode()&os.ModeCharDevice != 0, fi.Mode().IsRegular():
	case fi.IsDir():
		if empty, err := isEmptyDir(p); err != nil || !empty {
			return nil
		}
	default:
		return nil
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return nil
}

// setupChroot enters the tree: chroot, then the working dir. No /proc,
// /sys or /dev/pts: mounting them needs CAP_SYS_ADMIN.
func setupChroot(cfg *childConfig, _ *stubMaker) error {
	if err := unix.Chroot(cfg.Merged); err != nil {
		return fmt.Errorf("entering the root: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("creating working dir: %w", err)
	}
	if err := os.Chdir(cfg.Dir); err != nil {
		return fmt.Errorf("entering working dir: %w", err)
	}
	return nil
}
