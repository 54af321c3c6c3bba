package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// CheckOptions tells a Checker what kind of tar it reads.
type CheckOptions struct {
	// RootFS is set for a root filesystem tarball (strata import), which is
	// stored as a layer as it is: an entry named ".wh.*" there is a real
	// file, which a layer cannot hold (it would read as a whiteout), and is
	// refused. In a layer tar such entries are whiteouts.
	RootFS bool
}

// Checker validates the entries of one tar as they stream by, so that a tar
// that could never be extracted safely is refused before it is stored: a
// name that climbs out of the root ("..") or is absolute, a name whose path
// goes through a symlink an earlier entry of the same tar made, a hard link
// whose target climbs out or is not an earlier non-directory entry, and,
// with RootFS, a real file named ".wh.*". It keeps one map entry per
// distinct name.
type Checker struct {
	opts CheckOptions
	// kinds holds the type of the last entry of each clean name.
	kinds map[string]byte
	n     int
}

// NewChecker returns a Checker for one tar.
func NewChecker(opts CheckOptions) *Checker {
	return &Checker{opts: opts, kinds: make(map[string]byte)}
}

// ErrUnsafeEntry is matched (errors.Is) by every error of Checker.Check.
var ErrUnsafeEntry = errors.New("unsafe tar entry")

// unsafeEntry returns the error for the entry name.
func unsafeEntry(name, format string, args ...any) error {
	if len(name) > 128 {
		name = name[:128] + "..."
	}
	return fmt.Errorf("%w %q: %s", ErrUnsafeEntry, name, fmt.Sprintf(format, args...))
}

// Check validates the next entry of the tar, whose header is hdr.
func (c *Checker) Check(hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	c.n++
	if len(hdr.Name) > maxNameLen || len(hdr.Linkname) > maxNameLen {
		return unsafeEntry(hdr.Name, "name or link target longer than %d bytes", maxNameLen)
	}
	name, err := c.inside(hdr.Name, hdr.Name, "name")
	if err != nil {
		return err
	}
	if name == "." {
		c.kinds[name] = hdr.Typeflag
		return nil
	}
	if via := c.throughSymlink(name); via != "" {
		return unsafeEntry(hdr.Name, "its path goes through %q, a symlink an earlier entry made", via)
	}
	if base := path.Base(name); c.opts.RootFS && strings.HasPrefix(base, whiteoutPrefix) {
		return unsafeEntry(hdr.Name, "a file named %s* cannot be stored in a layer, where it would read as a whiteout: rename it", whiteoutPrefix)
	} else if strings.HasPrefix(base, whiteoutPrefix) {
		return nil // a whiteout: it makes nothing
	}
	if hdr.Typeflag == tar.TypeLink {
		if err := c.checkHardlink(hdr); err != nil {
			return err
		}
	}
	c.kinds[name] = hdr.Typeflag
	return nil
}

// inside returns the clean form of the path p of the entry name (its name
// or its hard link target, what), or an error when p is absolute or climbs
// out of the root.
func (c *Checker) inside(name, p, what string) (string, error) {
	n := path.Clean(p)
	switch {
	case path.IsAbs(n):
		return "", unsafeEntry(name, "the %s %q is an absolute path", what, p)
	case n == ".." || strings.HasPrefix(n, "../"):
		return "", unsafeEntry(name, "the %s %q climbs out of the root through \"..\"", what, p)
	}
	return n, nil
}

// throughSymlink returns the first proper parent of name that the last entry
// of that name made a symlink, or "".
func (c *Checker) throughSymlink(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		if c.kinds[name[:i]] == tar.TypeSymlink {
			return name[:i]
		}
	}
	return ""
}

// checkHardlink checks that a hard link points to an earlier entry that is
// not a directory, reached through no symlink.
func (c *Checker) checkHardlink(hdr *tar.Header) error {
	target, err := c.inside(hdr.Name, hdr.Linkname, "hard link target")
	if err != nil {
		return err
	}
	if via := c.throughSymlink(target); via != "" {
		return unsafeEntry(hdr.Name, "hard link target %q goes through %q, a symlink an earlier entry made", hdr.Linkname, via)
	}
	kind, ok := c.kinds[target]
	switch {
	case !ok || target == ".":
		return unsafeEntry(hdr.Name, "hard link target %q is not an earlier entry of this tar", hdr.Linkname)
	case kind == tar.TypeDir:
		return unsafeEntry(hdr.Name, "hard link target %q is a directory", hdr.Linkname)
	}
	return nil
}

// CheckTar reads the tar r to its end, checking every entry with a new
// Checker; file contents are skipped (by seeking when r can).
func CheckTar(r io.Reader, opts CheckOptions) error {
	c := NewChecker(opts)
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar after %d entries: %w", c.n, err)
		}
		if err := c.Check(hdr); err != nil {
			return err
		}
	}
}
