package layer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unsafe"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Extract reads an uncompressed layer tar from r into dir (which must exist).
//
// Names are taken relative to dir: a leading "/" is dropped, and a name that
// leaves dir through ".." is an error. Parent directories are resolved inside
// dir (a symlink to "/etc" met on the way leads to dir/etc), so nothing is
// ever written outside dir. Hardlinks must point to an earlier entry of the
// same tar. An entry whose base name starts with ".wh." is a whiteout: in
// DiffFormat it becomes an overlayfs whiteout (".wh.x" a character device
// 0:0 named x, ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its
// directory); in MergedFormat ".wh.x" removes x and ".wh..wh..opq" removes
// what its directory held that this tar did not write. Directory mtimes are
// set last. Extract checks ctx between entries and while copying; errors
// name the entry.
func Extract(ctx context.Context, r io.Reader, dir string, opts ExtractOptions) (ExtractStats, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return ExtractStats{}, fmt.Errorf("extracting into %s: %w", dir, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return ExtractStats{}, fmt.Errorf("extracting into %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return ExtractStats{}, fmt.Errorf("extracting into %s: not a directory", dir)
	}
	x := &extractor{
		ctx:      ctx,
		opts:     opts,
		root:     root,
		realDirs: make(map[string]bool),
		written:  make(map[string]bool),
		buf:      make([]byte, bufSize),
	}
	x.startWriters()
	defer x.stopWriters()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return x.stats, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return x.stats, fmt.Errorf("reading tar after %d entries: %w", x.stats.Entries, err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		x.stats.Entries++
		if err := x.entry(hdr, tr); err != nil {
			return x.stats, err
		}
	}
	if err := x.stopWriters(); err != nil {
		return x.stats, err
	}
	return x.stats, x.finish()
}

// extractor is the state of one Extract.
type extractor struct {
	ctx  context.Context
	opts ExtractOptions
	root string // absolute
	// realDirs holds the slash-separated relative paths known to be real
	// directories reached through real directories only; it is emptied
	// whenever a directory is removed.
	realDirs map[string]bool
	// written holds the absolute paths of what this tar wrote, and of their
	// ancestors.
	written  map[string]bool
	dirTimes []dirTime
	buf      []byte
	stats    ExtractStats
	writers  *writers // nil: every file is written in order
}

// dirTime is a directory mtime set at the end.
type dirTime struct {
	path  string
	times []unix.Timespec
}

// entryErr returns an error about the tar entry name.
func entryErr(name, format string, args ...any) error {
	if len(name) > 128 {
		name = name[:128] + "..."
	}
	return fmt.Errorf("tar entry %q: "+format, append([]any{name}, args...)...)
}

// cleanName turns a tar name into a clean relative path ("." for the root),
// or reports that it escapes the root.
func cleanName(name string) (string, bool) {
	n := path.Clean(strings.TrimLeft(name, "/"))
	if n == ".." || strings.HasPrefix(n, "../") {
		return "", false
	}
	return n, true
}

// entry extracts one tar entry, whose content r holds.
func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if len(hdr.Name) > maxNameLen {
		return entryErr(hdr.Name, "name longer than %d bytes", maxNameLen)
	}
	if len(hdr.Linkname) > maxNameLen {
		return entryErr(hdr.Name, "link target longer than %d bytes", maxNameLen)
	}
	if isSparse(hdr) {
		// No OCI layer writer makes sparse entries, and a small one can
		// stand for terabytes of zeros.
		return entryErr(hdr.Name, "sparse files are not supported")
	}
	name, ok := cleanName(hdr.Name)
	if !ok {
		return entryErr(hdr.Name, "path escapes the extraction root")
	}
	if (hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir) || strings.HasPrefix(path.Base(name), whiteoutPrefix) {
		// A link, a node or a whiteout waits for the files in flight: a
		// hardlink needs its target, and nothing may replace or remove a
		// path under a file being written. (A file or directory entry
		// over an earlier one of this tar waits too, below.)
		if err := x.flush(); err != nil {
			return err
		}
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return entryErr(hdr.Name, "the extraction root can only be a directory")
		}
		if err := x.setMeta(x.root, hdr, false); err != nil {
			return entryErr(hdr.Name, "%w", err)
		}
		x.dirTimes = append(x.dirTimes, dirTime{path: x.root, times: timespecs(hdr)})
		return nil
	}
	parentRel, base := path.Dir(name), path.Base(name)
	if parentRel != "." {
		for _, c := range strings.Split(parentRel, "/") {
			if strings.HasPrefix(c, whiteoutPrefix) {
				return entryErr(hdr.Name, "parent %q is a whiteout", c)
			}
		}
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(hdr, parentRel, base)
	}
	parent, _, err := x.parentDir(parentRel, true)
	if err != nil {
		return entryErr(hdr.Name, "%w", err)
	}
	target := filepath.Join(parent, base)
	if x.written[target] {
		if err := x.flush(); err != nil { // an earlier file of that name may be in flight
			return err
		}
	}
	if err := x.clear(target, hdr.Typeflag == tar.TypeDir); err != nil {
		return entryErr(hdr.Name, "%w", err)
	}
	switch {
	case x.parallel(hdr, target):
		err = x.queueFile(target, hdr, r)
	case hdr.Typeflag == tar.TypeReg:
		err = x.writeFile(target, hdr, r)
	case hdr.Typeflag == tar.TypeDir:
		err = x.makeDir(target, hdr)
	case hdr.Typeflag == tar.TypeSymlink:
		err = x.makeSymlink(target, hdr)
	case hdr.Typeflag == tar.TypeLink:
		err = x.makeHardlink(target, hdr)
	case hdr.Typeflag == tar.TypeChar, hdr.Typeflag == tar.TypeBlock, hdr.Typeflag == tar.TypeFifo:
		err = x.makeNode(target, hdr)
	default:
		return entryErr(hdr.Name, "unsupported entry type %q", hdr.Typeflag)
	}
	if err != nil {
		return entryErr(hdr.Name, "%w", err)
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		x.stats.Content += hdr.Size
	case tar.TypeSymlink:
		x.stats.Content += int64(len(hdr.Linkname))
	}
	x.markWritten(target)
	return nil
}

// isSparse reports whether hdr is a GNU sparse file, old or PAX style.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// parentDir resolves the directory rel (slash-separated, clean, relative)
// inside the root, symlinks included, and creates it when create is set.
// It reports whether the directory exists.
func (x *extractor) parentDir(rel string, create bool) (string, bool, error) {
	if rel == "." {
		return x.root, true, nil
	}
	if x.realDirs[rel] {
		return filepath.Join(x.root, rel), true, nil
	}
	p, err := securejoin.SecureJoin(x.root, rel)
	if err != nil {
		return "", false, fmt.Errorf("resolving parent %q: %w", rel, err)
	}
	if p != x.root && !strings.HasPrefix(p, x.root+"/") {
		// SecureJoin never does this; refuse rather than trust it blindly.
		return "", false, fmt.Errorf("parent %q resolves outside the extraction root", rel)
	}
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !create:
		return p, false, nil
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", false, fmt.Errorf("creating parent %q: %w", rel, err)
		}
	case err != nil:
		return "", false, fmt.Errorf("resolving parent %q: %w", rel, err)
	case !fi.IsDir():
		return "", false, fmt.Errorf("parent %q is not a directory", rel)
	}
	if p == filepath.Join(x.root, rel) {
		x.realDirs[rel] = true
	}
	return p, true, nil
}

// clear removes what is at target unless both it and the new entry are
// directories.
func (x *extractor) clear(target string, isDir bool) error {
	fi, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading existing file: %w", err)
	}
	if !fi.IsDir() {
		if err := os.Remove(target); err != nil {
			return fmt.Errorf("removing existing file: %w", err)
		}
		return nil
	}
	if isDir {
		return nil
	}
	x.realDirs = make(map[string]bool)
	if err := os.RemoveAll(target); err != nil {
		return fmt.Errorf("removing existing directory: %w", err)
	}
	return nil
}

// markWritten records target, and its ancestors, as written by this tar.
func (x *extractor) markWritten(target string) {
	for p := target; len(p) > len(x.root) && !x.written[p]; p = filepath.Dir(p) {
		x.written[p] = true
	}
}

func (x *extractor) writeFile(target string, hdr *tar.Header, r io.Reader) error {
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("creating file: %w", err)
	}
	n, err := copyBuf(x.ctx, f, r, x.buf)
	x.stats.Bytes += n
	if err == nil {
		// Through the descriptor of the file just made: no path walks, and
		// nothing can swap the path in between.
		err = x.setMetaFd(int(f.Fd()), hdr)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing file: %w", err)
	}
	return nil
}

// setMetaFd sets the owner, mode, xattrs and times of the open regular
// file fd from hdr, in setMeta's order.
func (x *extractor) setMetaFd(fd int, hdr *tar.Header) error {
	if !x.opts.NoChown {
		uid, gid := x.mapIDs(hdr.Uid, hdr.Gid)
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return fmt.Errorf("changing owner: %w", err)
		}
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("changing mode: %w", err)
	}
	for _, kv := range layerXattrs(hdr, false) {
		if err := unix.Fsetxattr(fd, kv[0], []byte(kv[1]), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setting xattr %s: %w", kv[0], err)
		}
	}
	ts := timespecs(hdr)
	// utimensat(fd, NULL, ...) is futimens: x/sys has no wrapper for it.
	if _, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); errno != 0 {
		return fmt.Errorf("setting mtime: %w", errno)
	}
	return nil
}

// layerXattrs returns the xattrs of hdr to set on a file, sorted by name.
func layerXattrs(hdr *tar.Header, symlink bool) [][2]string {
	var out [][2]string
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, xattrPAX)
		if !ok || name == "" || !storedXattr(name) || (symlink && strings.HasPrefix(name, "user.")) {
			continue
		}
		out = append(out, [2]string{name, v})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

func (x *extractor) makeDir(target string, hdr *tar.Header) error {
	if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating directory: %w", err)
	}
	if err := x.setMeta(target, hdr, false); err != nil {
		return err
	}
	x.dirTimes = append(x.dirTimes, dirTime{path: target, times: timespecs(hdr)})
	return nil
}

func (x *extractor) makeSymlink(target string, hdr *tar.Header) error {
	if err := unix.Symlink(hdr.Linkname, target); err != nil {
		return fmt.Errorf("creating symlink: %w", err)
	}
	if err := x.setMeta(target, hdr, true); err != nil {
		return err
	}
	return setTimes(target, timespecs(hdr))
}

func (x *extractor) makeHardlink(target string, hdr *tar.Header) error {
	linkName, ok := cleanName(hdr.Linkname)
	if !ok {
		return fmt.Errorf("hardlink target %q escapes the extraction root", hdr.Linkname)
	}
	notEarlier := fmt.Errorf("hardlink target %q is not an earlier entry of this layer", hdr.Linkname)
	if linkName == "." {
		return notEarlier
	}
	parent, exists, err := x.parentDir(path.Dir(linkName), false)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	src := filepath.Join(parent, path.Base(linkName))
	if !exists || !x.written[src] {
		return notEarlier
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return notEarlier
	}
	if fi.IsDir() {
		return fmt.Errorf("hardlink target %q is a directory", hdr.Linkname)
	}
	if err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, target, 0); err != nil {
		return fmt.Errorf("creating hardlink: %w", err)
	}
	return nil
}

func (x *extractor) makeNode(target string, hdr *tar.Header) error {
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknod(target, mode, int(dev)); err != nil {
		if skipDevice(hdr, err) {
			return nil
		}
		return fmt.Errorf("creating device node: %w", err)
	}
	if err := x.setMeta(target, hdr, false); err != nil {
		return err
	}
	return setTimes(target, timespecs(hdr))
}

// whiteout applies the whiteout entry hdr, whose base name is base.
func (x *extractor) whiteout(hdr *tar.Header, parentRel, base string) error {
	diff := x.opts.Format == DiffFormat
	if base == opaqueMarker {
		parent, exists, err := x.parentDir(parentRel, diff)
		if err != nil {
			return entryErr(hdr.Name, "%w", err)
		}
		if diff {
			if err := unix.Lsetxattr(parent, opaqueXattrName(), []byte("y"), 0); err != nil {
				return entryErr(hdr.Name, "marking directory opaque: %w", err)
			}
			return nil
		}
		if exists {
			if err := x.removeUnwritten(parent); err != nil {
				return entryErr(hdr.Name, "emptying opaque directory: %w", err)
			}
		}
		return nil
	}
	victim := strings.TrimPrefix(base, whiteoutPrefix)
	if strings.HasPrefix(base, whiteoutMeta) || victim == "" || victim == "." || victim == ".." {
		return entryErr(hdr.Name, "unknown whiteout form")
	}
	parent, exists, err := x.parentDir(parentRel, diff)
	if err != nil {
		return entryErr(hdr.Name, "%w", err)
	}
	if !exists {
		return nil
	}
	target := filepath.Join(parent, victim)
	if err := x.clear(target, false); err != nil {
		return entryErr(hdr.Name, "%w", err)
	}
	if !diff {
		return nil
	}
	if err := unix.Mknod(target, unix.S_IFCHR, 0); err != nil {
		return entryErr(hdr.Name, "creating whiteout: %w", err)
	}
	if !x.opts.NoChown {
		uid, gid := x.mapIDs(0, 0)
		if err := os.Lchown(target, uid, gid); err != nil {
			return entryErr(hdr.Name, "changing whiteout owner: %w", err)
		}
	}
	x.markWritten(target)
	return nil
}

// removeUnwritten removes from dir, recursively, everything this tar did not
// write.
func (x *extractor) removeUnwritten(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		child := filepath.Join(dir, n)
		if x.written[child] {
			fi, err := os.Lstat(child)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				if err := x.removeUnwritten(child); err != nil {
					return err
				}
			}
			continue
		}
		x.realDirs = make(map[string]bool)
		if err := os.RemoveAll(child); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) mapIDs(uid, gid int) (int, int) {
	if x.opts.IDMap == nil {
		return uid, gid
	}
	return x.opts.IDMap(uid, gid)
}

// setMeta sets the owner, mode and xattrs of target from hdr, in that order:
// chown clears setuid bits and file capabilities, so they come after it.
func (x *extractor) setMeta(target string, hdr *tar.Header, symlink bool) error {
	if !x.opts.NoChown {
		uid, gid := x.mapIDs(hdr.Uid, hdr.Gid)
		if err := os.Lchown(target, uid, gid); err != nil {
			return fmt.Errorf("changing owner: %w", err)
		}
	}
	if !symlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, target, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("changing mode: %w", err)
		}
	}
	for _, kv := range layerXattrs(hdr, symlink) {
		err := unix.Lsetxattr(target, kv[0], []byte(kv[1]), 0)
		if err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setting xattr %s: %w", kv[0], err)
		}
	}
	return nil
}

// finish sets the directory mtimes, last set first.
func (x *extractor) finish() error {
	for i := len(x.dirTimes) - 1; i >= 0; i-- {
		d := x.dirTimes[i]
		fi, err := os.Lstat(d.path)
		if err != nil || !fi.IsDir() {
			continue // removed or replaced by a later entry
		}
		if err := setTimes(d.path, d.times); err != nil {
			return fmt.Errorf("setting mtime of %s: %w", d.path, err)
		}
	}
	return nil
}

// timespecs returns the atime and mtime of hdr for utimensat; a missing
// atime is the mtime.
func timespecs(hdr *tar.Header) []unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return []unix.Timespec{toTimespec(at), toTimespec(hdr.ModTime)}
}

func toTimespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// setTimes sets the times of target without following a symlink there.
func setTimes(target string, ts []unix.Timespec) error {
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting mtime: %w", err)
	}
	return nil
}
