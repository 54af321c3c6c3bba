package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
)

// overlayExtras turn off overlay features that write xattrs into the upper
// dir or make it depend on the lower dirs' inodes: a committed upper dir must
// be a self-contained layer.
var overlayExtras = [][2]string{{"index", "off"}, {"redirect_dir", "off"}, {"metacopy", "off"}}

// overlayOptions returns the options of an overlay mount: overlayExtras when
// extras is true, and, inside a user namespace (rootless strata), the
// userxattr flag, without which overlay cannot keep its opaque markers there
// (the trusted.overlay.* xattrs are out of reach; user.overlay.* serve).
func overlayOptions(extras bool) [][2]string {
	var opts [][2]string
	if extras {
		opts = append(opts, overlayExtras...)
	}
	if rootless.InUserNamespace() {
		opts = append(opts, [2]string{"userxattr", ""})
	}
	return opts
}

// Apply mounts m on target in the calling process's mount namespace (the
// sandbox's): a native tree by a bind mount, lowers by overlayfs, a single
// read-only lower by a bind mount when no Empty dir is given to hide its
// whiteouts.
func (m Mount) Apply(target string) error {
	if m.Tree != "" {
		if err := unix.Mount(m.Tree, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("mounting the snapshot's tree: %w", err)
		}
		if m.ReadOnly {
			return readOnly(target)
		}
		return nil
	}
	lower := m.Lower
	if len(lower) == 0 {
		if m.Empty == "" {
			return errors.New("snapshot: mounting an empty root needs an empty dir")
		}
		lower = []string{m.Empty}
	}
	if m.ReadOnly && len(lower) == 1 && m.Empty != "" && lower[0] != m.Empty {
		// Overlay wants two lower dirs when it has no upper dir; the empty
		// one also makes the kernel hide the layer's own whiteouts, which
		// a bind mount would show as 0:0 devices.
		lower = append(lower[:1:1], m.Empty)
	}
	if m.ReadOnly && len(lower) == 1 {
		if err := unix.Mount(lower[0], target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("mounting the layer: %w", err)
		}
		return readOnly(target)
	}
	o := overlay{lower: lower, readOnly: m.ReadOnly, extras: overlayOptions(true)}
	if !m.ReadOnly {
		if m.Upper == "" || m.Work == "" {
			return errors.New("snapshot: a writable overlay needs an upper and a work dir")
		}
		o.upper, o.work = m.Upper, m.Work
		if m.Volatile {
			o.extras = append(o.extras, [2]string{"volatile", ""})
		}
	}
	err := o.mount(target)
	if err != nil {
		// Older kernels may not know an option: retry without.
		o.extras = overlayOptions(false)
		if o.mount(target) == nil {
			return nil
		}
		return fmt.Errorf("mounting the overlay: %w", err)
	}
	return nil
}

func readOnly(target string) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("making the mount read-only: %w", err)
	}
	return nil
}

type overlay struct {
	lower       []string // top first
	upper, work string   // empty when readOnly
	readOnly    bool
	extras      [][2]string
}

// mount mounts the overlay on target, with mount(2) when its options fit in
// the page the kernel reads them from and no path needs escaping, and with
// the new mount API, one lowerdir+ per layer (Linux 6.8), otherwise.
func (o overlay) mount(target string) error {
	data, ok := o.data()
	if !ok {
		return o.fsmount(target)
	}
	var flags uintptr
	if o.readOnly {
		flags = unix.MS_RDONLY
	}
	return unix.Mount("overlay", target, "overlay", flags, data)
}

// data returns the mount(2) option string, or false when it is too long or a
// path holds a character the syntax cannot carry.
func (o overlay) data() (string, bool) {
	paths := append([]string{o.upper, o.work}, o.lower...)
	for _, p := range paths {
		if strings.ContainsAny(p, ",:\\") {
			return "", false
		}
	}
	opts := []string{"lowerdir=" + strings.Join(o.lower, ":")}
	if !o.readOnly {
		opts = append(opts, "upperdir="+o.upper, "workdir="+o.work)
	}
	for _, kv := range o.extras {
		if kv[1] == "" { // a flag
			opts = append(opts, kv[0])
			continue
		}
		opts = append(opts, kv[0]+"="+kv[1])
	}
	data := strings.Join(opts, ",")
	return data, len(data) < os.Getpagesize()
}

func (o overlay) fsmount(target string) (err error) {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fd)
	defer func() {
		if err != nil {
			if msg := fsLog(fd); msg != "" {
				err = fmt.Errorf("%w (%s)", err, msg)
			}
		}
	}()
	if err := o.configure(fd); err != nil {
		return err
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("creating the overlay: %w", err)
	}
	var attr int
	if o.readOnly {
		attr = unix.MOUNT_ATTR_RDONLY
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching the overlay: %w", err)
	}
	return nil
}

// configure sets the overlay's options on the file system context fd.
func (o overlay) configure(fd int) error {
	set := func(k, v string) error {
		if err := unix.FsconfigSetString(fd, k, v); err != nil {
			return fmt.Errorf("setting %s=%s: %w", k, v, err)
		}
		return nil
	}
	for _, l := range o.lower {
		if err := set("lowerdir+", l); err != nil {
			return err
		}
	}
	if !o.readOnly {
		if err := set("upperdir", o.upper); err != nil {
			return err
		}
		if err := set("workdir", o.work); err != nil {
			return err
		}
	}
	for _, kv := range o.extras {
		if kv[1] == "" { // a flag
			if err := unix.FsconfigSetFlag(fd, kv[0]); err != nil {
				return fmt.Errorf("setting %s: %w", kv[0], err)
			}
			continue
		}
		if err := set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// fsLog reads the messages the kernel left on a file system context.
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 4096)
	for range 32 {
		n, err := unix.Read(fd, buf) // ENODATA once the log is empty
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	return strings.Join(msgs, "; ")
}

// probeOverlay checks that an overlay can be mounted with dirs in dir: it
// creates the filesystem context and its superblock, which is where a
// machine without overlayfs, or a container without the privilege, fails,
// and never attaches it anywhere.
func probeOverlay(dir string) error {
	tmp, err := os.MkdirTemp(dir, "probe-")
	if err != nil {
		return fmt.Errorf("probing overlayfs: %w", err)
	}
	defer os.RemoveAll(tmp)
	o := overlay{}
	for _, d := range []string{"lower", "upper", "work"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return fmt.Errorf("probing overlayfs: %w", err)
		}
	}
	o.lower = []string{filepath.Join(tmp, "lower")}
	o.upper, o.work = filepath.Join(tmp, "upper"), filepath.Join(tmp, "work")
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("probing overlayfs: %w", err)
	}
	defer unix.Close(fd)
	for _, kv := range [][2]string{{"lowerdir", o.lower[0]}, {"upperdir", o.upper}, {"workdir", o.work}} {
		if err := unix.FsconfigSetString(fd, kv[0], kv[1]); err != nil {
			return fmt.Errorf("probing overlayfs: setting %s: %w", kv[0], err)
		}
	}
	if rootless.InUserNamespace() {
		if err := unix.FsconfigSetFlag(fd, "userxattr"); err != nil {
			return fmt.Errorf("probing overlayfs: setting userxattr: %w", err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		if msg := fsLog(fd); msg != "" {
			err = fmt.Errorf("%w (%s)", err, msg)
		}
		return fmt.Errorf("probing overlayfs: %w", err)
	}
	return nil
}
