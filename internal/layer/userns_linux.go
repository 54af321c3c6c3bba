package layer

import (
	"archive/tar"
	"errors"

	"github.com/strata-build/strata/internal/rootless"
	"golang.org/x/sys/unix"
)

// userOpaqueXattr marks an opaque directory where overlay is mounted with the
// userxattr option, as rootless strata's mounts are in its user namespace.
const userOpaqueXattr = "user.overlay.opaque"

// opaqueXattrName returns the xattr that marks a directory opaque for this
// process's overlay mounts.
func opaqueXattrName() string {
	return rootless.OverlayXattrPrefix() + "opaque"
}

// isOpaque reports whether the directory at path is marked opaque, in either
// form: a tree may come from a rootless build or a root one.
func isOpaque(path string) (bool, error) {
	for _, name := range []string{opaqueXattr, userOpaqueXattr} {
		v, ok, err := getXattr(path, name)
		if err != nil {
			return false, err
		}
		if ok && string(v) == "y" {
			return true, nil
		}
	}
	return false, nil
}

// skipDevice reports whether a device node that mknod refused with err is
// left out of the tree: a user namespace may not create character or block
// devices (other than 0:0 whiteouts), so, as moby does there, they are
// skipped. A RUN gets its /dev from the host anyway.
func skipDevice(hdr *tar.Header, err error) bool {
	return (hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock) &&
		errors.Is(err, unix.EPERM) && rootless.InUserNamespace()
}

// IsOpaque reports whether the directory path of a layer dir is marked
// opaque, in either form (root's trusted.overlay.opaque or a rootless
// store's user.overlay.opaque).
func IsOpaque(path string) (bool, error) { return isOpaque(path) }

// MarkOpaque marks the directory path of a layer dir opaque, with the xattr
// this process's overlay mounts read.
func MarkOpaque(path string) error {
	return unix.Lsetxattr(path, opaqueXattrName(), []byte("y"), 0)
}
