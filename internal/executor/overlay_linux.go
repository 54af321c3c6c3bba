package executor

import (
	"fmt"
	"os"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// overlayExtras turn off overlay features that write xattrs into the upper
// dir or make it depend on the lower dirs' inodes: a committed upper dir must
// be a self-contained layer.
var overlayExtras = [][2]string{{"index", "off"}, {"redirect_dir", "off"}, {"metacopy", "off"}}

// mountRoot mounts the rootfs of cfg on cfg.Merged.
func mountRoot(cfg *childConfig) error {
	r := cfg.Rootfs
	lower := r.Lower
	if len(lower) == 0 {
		lower = []string{cfg.Empty}
	}
	if r.ReadOnly && len(lower) == 1 && cfg.Empty != "" && lower[0] != cfg.Empty {
		// Overlay wants two lower dirs when it has no upper dir; the empty
		// one also makes the kernel hide the layer's own whiteouts, which
		// a bind mount would show as 0:0 devices.
		lower = append(lower, cfg.Empty)
	}
	if r.ReadOnly && len(lower) == 1 {
		if err := unix.Mount(lower[0], cfg.Merged, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("mounting the root: %w", err)
		}
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(unix.AT_FDCWD, cfg.Merged, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("making the root read-only: %w", err)
		}
		return nil
	}
	o := overlay{lower: lower, readOnly: r.ReadOnly, extras: overlayOptions(true)}
	if !r.ReadOnly {
		o.upper, o.work = r.Upper, r.Work
		if r.Volatile {
			o.extras = append(o.extras, [2]string{"volatile", ""})
		}
	}
	err := o.mount(cfg.Merged)
	if err != nil {
		// Older kernels may not know an option: retry without.
		o.extras = overlayOptions(false)
		if o.mount(cfg.Merged) == nil {
			return nil
		}
		return fmt.Errorf("mounting the root overlay: %w", err)
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
// the page the kernel reads them from, and with the new mount API, one
// lowerdir+ per layer (Linux 6.8), otherwise.
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

// mountLayers mounts m.Lowers (layer dirs, top first) on target: read-only,
// or writable with a throwaway tmpfs upper dir mounted on m.Source (writes
// vanish with the sandbox) when m.ReadOnly is false.
func mountLayers(m Mount, target string) error {
	lower := m.Lowers
	if len(lower) == 0 {
		return unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755")
	}
	if m.ReadOnly && len(lower) == 1 {
		if err := unix.Mount(lower[0], target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		return unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	}
	o := overlay{lower: lower, readOnly: m.ReadOnly, extras: overlayOptions(true)}
	if !m.ReadOnly {
		// Source is a scratch dir the caller made (and removes); the tmpfs
		// lives in the sandbox's own mount namespace and dies with it.
		scratch := m.Source
		if scratch == "" {
			return fmt.Errorf("a writable layers mount needs a scratch dir as its source")
		}
		if err := unix.Mount("tmpfs", scratch, "tmpfs", 0, "mode=0700"); err != nil {
			return err
		}
		o.upper, o.work = scratch+"/upper", scratch+"/work"
		for _, d := range []string{o.upper, o.work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
		}
	}
	if err := o.mount(target); err != nil {
		o.extras = overlayOptions(false)
		return o.mount(target)
	}
	return nil
}

// mountLayersSub mounts the file or directory m.Sub of the layers m.Lowers
// on m.Target: the layers are mounted in a tmpfs on the scratch dir
// m.Source (only this sandbox's mount namespace sees it), and the source
// inside them, resolved inside them, is bound on the mount point, which is
// a directory or a file as the source is. It returns the mount point.
func mountLayersSub(st *stubMaker, m Mount) (string, error) {
	scratch := m.Source
	if scratch == "" {
		return "", fmt.Errorf("a layers mount of a sub path needs a scratch dir as its source")
	}
	if err := unix.Mount("tmpfs", scratch, "tmpfs", 0, "mode=0700"); err != nil {
		return "", err
	}
	merged, empty := scratch+"/merged", scratch+"/empty"
	for _, d := range []string{merged, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
	}
	lower := m.Lowers
	if len(lower) == 0 {
		lower = []string{empty}
	}
	if m.ReadOnly && len(lower) == 1 {
		// Overlay wants two lower dirs without an upper one; the empty one
		// also hides the layer's own whiteouts.
		lower = append(lower, empty)
	}
	o := overlay{lower: lower, readOnly: m.ReadOnly, extras: overlayOptions(true)}
	if !m.ReadOnly {
		o.upper, o.work = scratch+"/upper", scratch+"/work"
		for _, d := range []string{o.upper, o.work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return "", err
			}
		}
	}
	if err := o.mount(merged); err != nil {
		o.extras = overlayOptions(false)
		if err := o.mount(merged); err != nil {
			return "", err
		}
	}
	src, err := securejoin.SecureJoin(merged, m.Sub)
	if err != nil {
		return "", fmt.Errorf("resolving source %s: %w", m.Sub, err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", m.Sub, err)
	}
	var p string
	if fi.IsDir() {
		p, err = st.dir(m.Target)
	} else {
		p, err = st.file(m.Target)
	}
	if err != nil {
		return "", err
	}
	if err := unix.Mount(src, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("binding source %s: %w", m.Sub, err)
	}
	return p, nil
}
