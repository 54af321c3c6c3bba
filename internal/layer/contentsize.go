package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
)

// ContentSize returns the bytes a layer tar's content takes, as docker
// counts a layer's size (the size of its diff directory): regular files'
// sizes, a hardlinked file once, a symlink the length of its target, and
// nothing for directories, devices and whiteouts. A WORKDIR layer is 0 B.
func ContentSize(r io.Reader) (int64, error) {
	tr := tar.NewReader(r)
	var n int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("reading the layer tar: %w", err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			n += hdr.Size
		case tar.TypeSymlink:
			n += int64(len(hdr.Linkname))
		}
	}
}
