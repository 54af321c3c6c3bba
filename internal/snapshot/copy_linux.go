package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// copyEntry copies the non-directory src to the new path dst, with its
// owner, mode, xattrs and times: a regular file by reflink when the
// filesystem can, by copy otherwise.
func copyEntry(src, dst string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if err := copyFile(src, dst, st); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("making node %s: %w", dst, err)
		}
	default:
		return fmt.Errorf("copying %s: unknown file type %#o", src, st.Mode&unix.S_IFMT)
	}
	return copyMeta(src, dst, st)
}

// copyMeta gives dst the owner, mode, xattrs and times of src (stat st).
// The mode is set after the owner, which clears setuid and setgid bits.
func copyMeta(src, dst string, st *unix.Stat_t) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("setting the owner of %s: %w", dst, err)
	}
	symlink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if !symlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, dst, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", dst, err)
		}
	}
	if err := copyXattrs(src, dst); err != nil {
		return fmt.Errorf("copying the xattrs of %s: %w", src, err)
	}
	return setTimes(dst, st)
}

// setTimes gives path (not followed) the atime and mtime of st.
func setTimes(path string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting the times of %s: %w", path, err)
	}
	return nil
}

// copyFile copies a regular file's content, by FICLONE where the
// filesystem shares extents (btrfs, xfs), else by copy_file_range (which
// io.Copy uses between files).
func copyFile(src, dst string, st *unix.Stat_t) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(st.Mode&0o777))
	if err != nil {
		return err
	}
	if st.Size > 0 {
		if err = unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); err != nil {
			_, err = io.Copy(out, in)
		}
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return nil
}

// overlayXattr reports whether name is overlayfs's own bookkeeping, which
// belongs to the layer dir it is in and is never copied.
func overlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

// xattrs returns the xattrs of path (not followed) but overlayfs's own.
func xattrs(path string) (map[string][]byte, error) {
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, b := range bytes.Split(buf[:n], []byte{0}) {
		name := string(b)
		if name == "" || overlayXattr(name) {
			continue
		}
		v, err := getXattr(path, name)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func getXattr(path, name string) ([]byte, error) {
	for {
		size, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, err
		}
		v := make([]byte, size)
		n, err := unix.Lgetxattr(path, name, v)
		if errors.Is(err, unix.ERANGE) {
			continue // it grew
		}
		if err != nil {
			return nil, err
		}
		return v[:n], nil
	}
}

// copyXattrs copies the xattrs of src onto dst but overlayfs's own.
func copyXattrs(src, dst string) error {
	xs, err := xattrs(src)
	if err != nil {
		return err
	}
	for name, v := range xs {
		if err := unix.Lsetxattr(dst, name, v, 0); err != nil {
			return fmt.Errorf("setting xattr %s: %w", name, err)
		}
	}
	return nil
}
