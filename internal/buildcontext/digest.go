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
	"sync"
	"time"

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
// cached on the Context by path, size, mtime, ctime, device and inode, so
// an unchanged file is read once per process, and not at all when the
// hashes of an earlier process were loaded (LoadHashes).
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
		sum, xs, err := d.c.contentHash(rel, st.key)
		if err != nil {
			return err
		}
		fmt.Fprintf(d.h, " size=%d sha256=%s", fi.Size(), sum)
		d.xattrs(xs)
		fmt.Fprintln(d.h)
		return nil
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(d.c.abs(rel))
		if err != nil {
			return err
		}
		fmt.Fprintf(d.h, " target=%q", target)
	case mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		fmt.Fprintf(d.h, " rdev=%d:%d", unix.Major(st.rdev), unix.Minor(st.rdev))
	}
	d.xattrs(xattrs(d.c.abs(rel)))
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

// xattrs hashes a path's extended attributes.
func (d *digester) xattrs(xs []string) {
	for _, x := range xs {
		fmt.Fprintf(d.h, " xattr=%q", x)
	}
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

// contentHash returns the sha256 (hex) and the extended attributes of the
// regular file rel, from the cache when its key is unchanged (setting an
// attribute changes the ctime, so they are cached with the content). The
// file is opened with O_NOFOLLOW.
func (c *Context) contentHash(rel string, key fileKey) (string, []string, error) {
	c.mu.Lock()
	e, ok := c.hashes[key]
	if ok {
		e.used = true
	}
	c.mu.Unlock()
	if ok {
		return hex.EncodeToString(e.sum[:]), e.xattrs, nil
	}
	opened := time.Now()
	e = &hashEntry{keep: !racy(key, opened), used: true}
	e.xattrs = xattrs(c.abs(rel))
	f, err := os.OpenFile(c.abs(rel), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, *buf); err != nil {
		return "", nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	h.Sum(e.sum[:0])
	c.mu.Lock()
	c.hashes[key] = e
	c.hashesAdded = c.hashesAdded || e.keep
	c.filesRead++
	c.mu.Unlock()
	return hex.EncodeToString(e.sum[:]), e.xattrs, nil
}

// copyBufs are the read buffers of contentHash: a context of many small
// files would otherwise allocate one per file.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
