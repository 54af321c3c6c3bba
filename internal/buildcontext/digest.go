package buildcontext

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// fileKey identifies one version of a file for the content hash cache.
type fileKey struct {
	path         string
	size         int64
	mtime, ctime int64 // nanoseconds
	dev, ino     uint64
}

// fileStat is the part of a stat result the digest and the cache use.
type fileStat struct {
	uid, gid uint32
	nlink    uint64
	rdev     uint64
	key      fileKey
}

// Digest returns a content digest of the sources and of everything below
// them that exists in the context: for each source its Rel, then for each
// path under it (the source itself as ".") the relative path, file type,
// permission and special mode bits, size, sha256 of the contents, symlink
// target, device numbers, extended attributes and which earlier path it is a
// hard link of. Modification times are left out, as in BuildKit's
// content-based cache keys, and so are owners: COPY and ADD give context
// files root:root (or --chown), so a context file's owner never reaches a
// layer and must not invalidate the cache. A symlink named as a source is
// followed (inside the context), as COPY does. File content hashes are
// cached on the Context by path, size, mtime, ctime and inode, so an
// unchanged file is read once per process.
func (c *Context) Digest(ctx context.Context, sources []Source) (v1.Hash, error) {
	h := sha256.New()
	for _, s := range sources {
		if err := ctx.Err(); err != nil {
			return v1.Hash{}, err
		}
		fmt.Fprintf(h, "source %q glob=%t\n", s.Rel, s.Glob)
		real, err := c.Resolve(s.Rel)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("digesting %s: %w", s.Rel, err)
		}
		d := &digester{c: c, h: h, base: real, links: make(map[[2]uint64]string)}
		fi, err := os.Lstat(c.abs(real))
		if err != nil {
			return v1.Hash{}, fmt.Errorf("digesting %s: %w", s.Rel, err)
		}
		if err := d.entry(ctx, real, fi); err != nil {
			return v1.Hash{}, fmt.Errorf("digesting %s: %w", s.Rel, err)
		}
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

// abs returns the host path of rel.
func (t *Tree) abs(rel string) string {
	return filepath.Join(t.root, filepath.FromSlash(rel))
}

// digester hashes the tree below one source.
type digester struct {
	c     *Context
	h     hash.Hash
	base  string               // the source's real path
	links map[[2]uint64]string // (dev, ino) → first path with it
}

// entry hashes rel (already known to be present) and, for a directory, its
// present children in name order.
func (d *digester) entry(ctx context.Context, rel string, fi fs.FileInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, err := relTo(d.base, rel)
	if err != nil {
		return err
	}
	st := statOf(fi, d.c.abs(rel))
	mode := fi.Mode()
	fmt.Fprintf(d.h, "%q type=%v perm=%o", name, mode.Type(), mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	switch {
	case mode.IsRegular():
		id := [2]uint64{st.key.dev, st.key.ino}
		if first, ok := d.links[id]; ok && st.nlink > 1 {
			fmt.Fprintf(d.h, " hardlink=%q", first)
			break
		}
		if st.nlink > 1 {
			d.links[id] = name
		}
		sum, err := d.c.contentHash(rel, st.key)
		if err != nil {
			return err
		}
		fmt.Fprintf(d.h, " size=%d sha256=%s", fi.Size(), sum)
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(d.c.abs(rel))
		if err != nil {
			return err
		}
		fmt.Fprintf(d.h, " target=%q", target)
	case mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		fmt.Fprintf(d.h, " rdev=%d:%d", unix.Major(st.rdev), unix.Minor(st.rdev))
	}
	for _, x := range xattrs(d.c.abs(rel)) {
		fmt.Fprintf(d.h, " xattr=%q", x)
	}
	fmt.Fprintln(d.h)
	if !fi.IsDir() {
		return nil
	}
	entries, err := os.ReadDir(d.c.abs(rel))
	if err != nil {
		return err
	}
	for _, e := range entries {
		child := path.Join(rel, e.Name())
		cfi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		ok, err := d.c.Present(child, cfi)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := d.entry(ctx, child, cfi); err != nil {
			return err
		}
	}
	return nil
}

// relTo returns rel as a path relative to base ("." for base itself); both
// are clean slash paths relative to the tree's root, "." being the root.
func relTo(base, rel string) (string, error) {
	switch {
	case rel == base:
		return ".", nil
	case base == ".":
		return rel, nil
	case strings.HasPrefix(rel, base+"/"):
		return rel[len(base)+1:], nil
	}
	return "", fmt.Errorf("digesting %s: not below the source %s", rel, base)
}

// contentHash returns the sha256 (hex) of the regular file rel, from the
// cache when its key is unchanged. The file is opened with O_NOFOLLOW.
func (c *Context) contentHash(rel string, key fileKey) (string, error) {
	c.mu.Lock()
	sum, ok := c.hashes[key]
	c.mu.Unlock()
	if ok {
		return sum, nil
	}
	f, err := os.OpenFile(c.abs(rel), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", rel, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	c.mu.Lock()
	c.hashes[key] = sum
	c.mu.Unlock()
	return sum, nil
}
