package procspec

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxUserFile bounds how much of /etc/passwd or /etc/group is read.
const maxUserFile = 10 << 20

// ReadLayered reads the file rel (no leading slash) as the merged view of
// the layer dirs (top first, overlay format: whiteouts are character
// devices, opaque dirs carry the overlay.opaque xattr) shows it;
// os.ErrNotExist when it is absent, deleted or not a regular file.
func ReadLayered(layers []string, rel string) ([]byte, error) {
	parts := strings.Split(rel, "/")
	for _, d := range layers {
		hidden, opaque := false, false
		for i := 1; i < len(parts); i++ {
			p := filepath.Join(d, filepath.Join(parts[:i]...))
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				break
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				hidden = true // a whiteout or a file replaces the directory
				break
			}
			for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} { // root, rootless
				if v, err := getxattr(p, x); err == nil && v == "y" {
					opaque = true
				}
			}
		}
		if hidden {
			return nil, os.ErrNotExist
		}
		p := filepath.Join(d, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err == nil {
			if st.Mode&unix.S_IFMT != unix.S_IFREG {
				return nil, os.ErrNotExist // a whiteout, or not a file
			}
			return readBounded(p, rel)
		}
		if opaque {
			return nil, os.ErrNotExist
		}
	}
	return nil, os.ErrNotExist
}

// readBounded reads the file p (rel in the image), at most maxUserFile bytes.
func readBounded(p, rel string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUserFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxUserFile {
		return nil, fmt.Errorf("/%s is larger than %d bytes", rel, maxUserFile)
	}
	return b, nil
}

func getxattr(path, name string) (string, error) {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
