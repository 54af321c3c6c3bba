package fscopy

import (
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
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/buildcontext"
	"github.com/strata-build/strata/internal/layer"
)

// dirMode is the mode of directories a copy or WORKDIR creates.
const dirMode = 0o755

// Copy performs the action inside root, the image's tree. Every destination
// path is resolved inside root, and nothing outside root is written; sources
// are read from a.SrcRoot and never from outside it.
func Copy(ctx context.Context, root string, a Action) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("copying into %s: %w", root, err)
	}
	tree, err := buildcontext.NewTree(a.SrcRoot, a.Exclude)
	if err != nil {
		return err
	}
	dest := path.Clean("/" + filepath.ToSlash(a.Dest))
	destIsDir := a.Dest == "" || a.Dest == "." || strings.HasSuffix(a.Dest, "/") || strings.HasSuffix(a.Dest, "/.")
	for _, s := range a.Sources {
		if a.Parents {
			c := &copier{ctx: ctx, root: root, tree: tree, a: &a, links: make(map[[2]uint64]string)}
			if err := c.copyParents(s, dest); err != nil {
				return fmt.Errorf("copying %s to %s: %w", s.Rel, a.Dest, err)
			}
			continue
		}
		srcs := []string{buildcontext.CleanSource(s.Rel)}
		if s.IsGlob {
			if srcs, err = tree.Glob(s.Rel); err != nil {
				return err
			}
		}
		for _, src := range srcs {
			c := &copier{ctx: ctx, root: root, tree: tree, a: &a, links: make(map[[2]uint64]string)}
			if err := c.copySource(src, dest, destIsDir); err != nil {
				return fmt.Errorf("copying %s to %s: %w", src, a.Dest, err)
			}
		}
	}
	return nil
}

// MkdirAll creates dir (absolute inside root; symlinks resolved inside root)
// and its missing parents with mode 0755, owned by owner (nil: as mkdir
// makes them), as WORKDIR does; existing directories are left alone.
func MkdirAll(root, dir string, owner *Owner) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	c := &copier{root: root, a: &Action{Chown: owner}}
	if _, err := c.mkdirAll(path.Clean("/" + filepath.ToSlash(dir))); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}

// copier copies one source; hard links are kept between its files.
type copier struct {
	ctx   context.Context
	root  string
	tree  *buildcontext.Tree
	a     *Action
	links map[[2]uint64]string // (dev, ino) of a source file → its copy
	// top is the tree path of the source being copied, and excl its
	// --exclude patterns rooted there (nil without patterns).
	top  string
	excl *buildcontext.Tree
}

// show returns the image path of a host path under root, for messages and
// to re-resolve a path inside root. A name that merely starts with ".."
// ("...b") is inside root.
func (c *copier) show(host string) string {
	rel, err := filepath.Rel(c.root, host)
	if err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return path.Clean("/" + filepath.ToSlash(rel))
	}
	return host
}

// src returns the host path of a tree path.
func (c *copier) src(rel string) string {
	return filepath.Join(c.tree.Root(), filepath.FromSlash(rel))
}

// copySource copies (or unpacks) the source src to dest, as fsutil's Copy
// with CopyDirContents and FollowLinks does.
func (c *copier) copySource(src, dest string, destIsDir bool) error {
	real, err := c.tree.Resolve(src)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(c.src(real))
	if err != nil {
		return err
	}
	if err := c.setTop(real); err != nil {
		return err
	}
	if c.a.Unpack && fi.Mode().IsRegular() {
		if ok, err := c.unpack(real, dest); err != nil || ok {
			return err
		}
	}
	ensure := path.Dir(dest)
	if destIsDir {
		ensure = dest
	}
	created, err := c.mkdirAll(ensure)
	if err != nil {
		return err
	}
	defer c.fixTimes(created)
	dst, err := securejoin.SecureJoin(c.root, dest)
	if err != nil {
		return err
	}
	dfi, err := os.Stat(dst)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !fi.IsDir() && dfi != nil && dfi.IsDir() {
		dst = filepath.Join(dst, path.Base(src))
	}
	// the directory the copy goes into; root itself (a directory copied
	// to "/") exists, and its parent is the host's, never to be made
	if dst != c.root {
		target := filepath.Dir(dst)
		if fi.IsDir() && dfi == nil {
			target = dst
		}
		inside, err := c.imagePath(target)
		if err != nil {
			return err
		}
		created2, err := c.mkdirAll(inside)
		if err != nil {
			return err
		}
		defer c.fixTimes(created2)
	}
	return c.copy(real, fi, dst, false)
}

// imagePath returns the image path of a host path under root; a path
// outside root is an error (the host's own paths never reach a layer).
func (c *copier) imagePath(host string) (string, error) {
	rel, err := filepath.Rel(c.root, host)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("copying: %s is outside the image's root", host)
	}
	return path.Clean("/" + filepath.ToSlash(rel)), nil
}

// mkdirAll creates the image directory dir and its missing parents
// (following symlinks inside root) with mode 0755, owned by Chown when set,
// and mtime ModTime when set. It returns the host paths it created.
func (c *copier) mkdirAll(dir string) ([]string, error) {
	cur := c.root
	var created []string
	for _, comp := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		if comp == "" {
			continue
		}
		next := filepath.Join(cur, comp)
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := c.mkdir(next); err != nil {
				return created, err
			}
			created = append(created, next)
		case err != nil:
			return created, err
		case fi.Mode()&fs.ModeSymlink != 0:
			if next, err = securejoin.SecureJoin(c.root, c.show(next)); err != nil {
				return created, err
			}
			fi, err := os.Stat(next)
			if errors.Is(err, os.ErrNotExist) {
				// a dangling link: create what it points to, inside root
				if _, err := c.mkdirAll(c.show(next)); err != nil {
					return created, err
				}
				break
			}
			if err != nil {
				return created, err
			}
			if !fi.IsDir() {
				return created, fmt.Errorf("creating %s: %s is not a directory", dir, c.show(next))
			}
		case !fi.IsDir():
			return created, fmt.Errorf("creating %s: %s is not a directory", dir, c.show(next))
		}
		cur = next
	}
	return created, nil
}

// mkdir creates one directory as mkdir(2) inside the container would: mode
// 0755 whatever the umask, with the setgid bit and the group the kernel
// gives it in a setgid parent, then owned by Chown when set (which keeps a
// directory's setgid bit).
func (c *copier) mkdir(p string) error {
	if err := os.Mkdir(p, dirMode); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	if o := c.a.Chown; o != nil {
		if err := os.Lchown(p, o.UID, o.GID); err != nil {
			return err
		}
	}
	if err := unix.Chmod(p, dirMode|st.Mode&unix.S_ISGID); err != nil { // umask
		return err
	}
	return setTimes(p, c.a.ModTime, nil)
}

// fixTimes sets ModTime again on created directories, deepest first, as
// their children changed it.
func (c *copier) fixTimes(created []string) {
	if c.a.ModTime == nil {
		return
	}
	for _, p := range slices.Backward(created) {
		_ = setTimes(p, c.a.ModTime, nil)
	}
}

// copy copies the tree path rel (Lstat fi) to the host path target. The
// metadata of an existing target directory is overwritten only below the
// top of the copy (overwrite).
func (c *copier) copy(rel string, fi fs.FileInfo, target string, overwrite bool) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	mode := fi.Mode()
	if mode&fs.ModeSocket != 0 && !c.a.SocketsAsFiles {
		return nil
	}
	src := c.src(rel)
	if !fi.IsDir() {
		if err := c.clearTarget(target); err != nil {
			return err
		}
	}
	setInfo := true
	switch {
	case fi.IsDir():
		created, err := c.copyDir(rel, fi, target, overwrite)
		if err != nil {
			return err
		}
		if !overwrite {
			setInfo = created
		}
	case mode&fs.ModeSocket != 0: // SocketsAsFiles
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("creating %s: %w", c.show(target), err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	case mode.IsRegular():
		st := fi.Sys().(*syscall.Stat_t)
		id := [2]uint64{uint64(st.Dev), st.Ino}
		if first, ok := c.links[id]; ok && st.Nlink > 1 {
			if err := os.Link(first, target); err != nil {
				return fmt.Errorf("linking %s: %w", c.show(target), err)
			}
			break
		}
		if st.Nlink > 1 {
			c.links[id] = target
		}
		if err := copyFile(src, target); err != nil {
			return fmt.Errorf("copying %s: %w", rel, err)
		}
	case mode&fs.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(link, target); err != nil {
			return fmt.Errorf("creating symlink %s: %w", c.show(target), err)
		}
	default: // fifos, character and block devices
		st := fi.Sys().(*syscall.Stat_t)
		if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("creating %s: %w", c.show(target), err)
		}
	}
	if setInfo {
		return c.setInfo(src, fi, target)
	}
	return nil
}

// clearTarget removes what is at target before a non-directory is copied
// there; a directory there is an error.
func (c *copier) clearTarget(target string) error {
	tfi, err := os.Lstat(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if tfi.IsDir() {
		return fmt.Errorf("cannot replace directory %s with a file", c.show(target))
	}
	return os.Remove(target)
}

// copyDir creates target (or merges into it) and copies rel's present
// children; it returns whether it created target.
func (c *copier) copyDir(rel string, fi fs.FileInfo, target string, overwrite bool) (bool, error) {
	created := false
	tfi, err := os.Lstat(target)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.Mkdir(target, 0o700); err != nil {
			return false, err
		}
		created = true
	case err != nil:
		return false, err
	case !tfi.IsDir():
		return false, fmt.Errorf("cannot copy directory %s to non-directory %s", rel, c.show(target))
	}
	entries, err := os.ReadDir(c.src(rel))
	if err != nil {
		return created, err
	}
	for _, e := range entries {
		child := path.Join(rel, e.Name())
		cfi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return created, err
		}
		ok, err := c.present(child, cfi)
		if err != nil {
			return created, err
		}
		if !ok {
			continue
		}
		if err := c.copy(child, cfi, filepath.Join(target, e.Name()), true); err != nil {
			return created, err
		}
	}
	return created, nil
}

// setInfo sets the owner, mode, xattrs and times of target from the source
// and the action's options.
func (c *copier) setInfo(src string, fi fs.FileInfo, target string) error {
	st := fi.Sys().(*syscall.Stat_t)
	uid, gid := 0, 0
	switch {
	case c.a.Chown != nil:
		uid, gid = c.a.Chown.UID, c.a.Chown.GID
	case c.a.KeepOwner:
		uid, gid = int(st.Uid), int(st.Gid)
	}
	if err := os.Lchown(target, uid, gid); err != nil {
		return fmt.Errorf("changing owner of %s: %w", c.show(target), err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		m := st.Mode & 0o7777
		if c.a.Chmod != nil {
			m = unixMode(*c.a.Chmod)
		} else if c.a.SymbolicChmod != nil {
			m = c.a.SymbolicChmod.Apply(m, fi.IsDir())
		}
		if err := unix.Chmod(target, m); err != nil {
			return fmt.Errorf("changing mode of %s: %w", c.show(target), err)
		}
	}
	copyXattrs(src, target)
	atime := time.Unix(st.Atim.Unix())
	return setTimes(target, c.a.ModTime, &[2]time.Time{atime, fi.ModTime()})
}

// unixMode returns the permission and special bits of m, given either as
// os.ModeSetuid, os.ModeSetgid and os.ModeSticky or as raw octal bits
// (os.FileMode(0o4755), as parsing --chmod gives).
func unixMode(m os.FileMode) uint32 {
	u := uint32(m) & 0o7777
	if m&os.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}

// setTimes sets the atime and mtime of p (not following a symlink) to tm,
// or else to src's; with neither it does nothing.
func setTimes(p string, tm *time.Time, src *[2]time.Time) error {
	var ts []unix.Timespec
	switch {
	case tm != nil:
		t := unix.NsecToTimespec(tm.UnixNano())
		ts = []unix.Timespec{t, t}
	case src != nil:
		ts = []unix.Timespec{unix.NsecToTimespec(src[0].UnixNano()), unix.NsecToTimespec(src[1].UnixNano())}
	default:
		return nil
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times of %s: %w", p, err)
	}
	return nil
}

// copyFile copies the contents of the regular file src to the new file
// target; neither is opened through a symlink.
func copyFile(src, target string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyXattrs copies the extended attributes of src to target, neither
// followed; attributes that cannot be read or set (trusted.* without the
// capability, a filesystem without user xattrs) are skipped, as BuildKit's
// Dockerfile copy logs and ignores them.
func copyXattrs(src, target string) {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size <= 0 {
		return
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(src, buf); err != nil {
		return
	}
	for _, name := range strings.Split(string(buf[:size]), "\x00") {
		if name == "" {
			continue
		}
		vsize, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vsize)
		if vsize, err = unix.Lgetxattr(src, name, val); err != nil {
			continue
		}
		_ = unix.Lsetxattr(target, name, val[:vsize], 0)
	}
}

// unpack extracts the regular file rel into the directory dest when it is a
// (possibly compressed) tar, and reports whether it was one.
func (c *copier) unpack(rel, dest string) (bool, error) {
	f, err := os.OpenFile(c.src(rel), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if !layer.IsTar(f) {
		return false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	created, err := c.mkdirAll(dest)
	if err != nil {
		return false, err
	}
	defer c.fixTimes(created)
	dir, err := securejoin.SecureJoin(c.root, dest)
	if err != nil {
		return false, err
	}
	r, err := layer.Decompress(f)
	if err != nil {
		return false, fmt.Errorf("unpacking %s: %w", rel, err)
	}
	defer r.Close()
	opts := layer.ExtractOptions{Format: layer.MergedFormat}
	if o := c.a.Chown; o != nil {
		opts.IDMap = func(int, int) (int, int) { return o.UID, o.GID }
	}
	if _, err := layer.Extract(c.ctx, r, dir, opts); err != nil {
		return false, fmt.Errorf("unpacking %s: %w", rel, err)
	}
	return true, nil
}
