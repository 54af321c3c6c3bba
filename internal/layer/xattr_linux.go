package layer

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// listXattrs returns the names of the xattrs of path (not following a
// symlink at path).
func listXattrs(path string) ([]string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			size, err := unix.Llistxattr(path, nil)
			if err != nil {
				return nil, fmt.Errorf("listing xattrs: %w", err)
			}
			buf = make([]byte, size+64)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing xattrs: %w", err)
		}
		var names []string
		for _, b := range bytes.Split(buf[:n], []byte{0}) {
			if len(b) > 0 {
				names = append(names, string(b))
			}
		}
		return names, nil
	}
}

// getXattr returns the value of one xattr of path, and false when it is not
// set.
func getXattr(path, name string) ([]byte, bool, error) {
	buf := make([]byte, 128)
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			size, err := unix.Lgetxattr(path, name, nil)
			if err != nil {
				return nil, false, fmt.Errorf("reading xattr %s: %w", name, err)
			}
			buf = make([]byte, size+64)
			continue
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
			return nil, false, nil
		case err != nil:
			return nil, false, fmt.Errorf("reading xattr %s: %w", name, err)
		}
		return buf[:n], true, nil
	}
}

// storedXattr reports whether an xattr belongs in a layer tar (and may be
// set from one): overlayfs's own bookkeeping and SELinux labels do not.
func storedXattr(name string) bool {
	switch {
	case strings.HasPrefix(name, "trusted.overlay."),
		strings.HasPrefix(name, "user.overlay."),
		name == "security.selinux":
		return false
	}
	return true
}

// CopyXattrs copies the xattrs of src onto dst, neither followed if a
// symlink, but overlayfs's own (trusted.overlay.*, user.overlay.*), which
// belong to the layer dir they are in.
func CopyXattrs(src, dst string) error {
	names, err := listXattrs(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		v, ok, err := getXattr(src, name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := unix.Lsetxattr(dst, name, v, 0); err != nil {
			return fmt.Errorf("setting xattr %s: %w", name, err)
		}
	}
	return nil
}
