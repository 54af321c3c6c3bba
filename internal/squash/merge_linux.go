package squash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/layer"
)

// MergeOptions tells Merge which layers to merge onto which.
type MergeOptions struct {
	// Lower are the layer directories that stay (layers 0..From-1), bottom
	// first, in overlay format. They are only read.
	Lower []string
	// Upper are the layer directories merged into one, bottom first, in
	// overlay format. Their files are hard-linked into the result, never
	// changed.
	Upper []string
}

// MergeStats counts what Merge made.
type MergeStats struct {
	// Entries is the number of paths in the merged tree, whiteouts included.
	Entries int
	// Whiteouts is the number of whiteouts kept because a lower layer has the
	// deleted path.
	Whiteouts int
}

// Merge writes into dst, an empty directory, the overlay-format tree of one
// layer equivalent to opts.Upper stacked on opts.Lower: files are hard links
// to the upper layers' files (copies where dst is on another filesystem),
// directories are made with the metadata of the topmost upper layer that
// has them, whiteouts and opaque directories are kept only where a lower
// layer has something to hide.
func Merge(ctx context.Context, dst string, opts MergeOptions) (MergeStats, error) {
	m := &merger{ctx: ctx, dst: dst, lower: opts.Lower, dirs: map[string]string{}}
	for i, up := range opts.Upper {
		if err := m.apply(up, ""); err != nil {
			return MergeStats{}, fmt.Errorf("merging layer %d: %w", i+1, err)
		}
	}
	if err := m.finishDirs(); err != nil {
		return MergeStats{}, err
	}
	return m.count(dst)
}

// merger is the state of one Merge.
type merger struct {
	ctx   context.Context
	dst   string
	lower []string
	// dirs maps each directory of the result (relative path) to the upper
	// layer directory whose metadata it takes: the topmost one.
	dirs map[string]string
}

// apply merges the directory rel of the upper layer dir up into the result.
func (m *merger) apply(up, rel string) error {
	names, err := readNames(filepath.Join(up, rel))
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := m.ctx.Err(); err != nil {
			return err
		}
		p := join(rel, name)
		src, dst := filepath.Join(up, p), filepath.Join(m.dst, p)
		var st unix.Stat_t
		if err := unix.Lstat(src, &st); err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		var dt unix.Stat_t
		dstErr := unix.Lstat(dst, &dt)
		if dstErr != nil && !errors.Is(dstErr, unix.ENOENT) {
			return fmt.Errorf("reading %s: %w", p, dstErr)
		}
		dstExists := dstErr == nil
		switch {
		case isWhiteout(&st):
			if dstExists {
				if err := os.RemoveAll(dst); err != nil {
					return fmt.Errorf("removing %s: %w", p, err)
				}
				m.forgetDirs(p)
			}
			if has, _, err := m.lowerHas(p); err != nil {
				return err
			} else if has {
				if err := unix.Mknod(dst, unix.S_IFCHR, 0); err != nil {
					return fmt.Errorf("making whiteout %s: %w", p, err)
				}
			}
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
			opaque, err := layer.IsOpaque(src)
			if err != nil {
				return fmt.Errorf("reading %s: %w", p, err)
			}
			keptDir := dstExists && dt.Mode&unix.S_IFMT == unix.S_IFDIR
			if keptDir && opaque {
				// The upper layer's directory replaces everything below it.
				if err := clearDir(dst); err != nil {
					return fmt.Errorf("clearing %s: %w", p, err)
				}
				m.forgetDirs(p + "/")
			}
			if !keptDir {
				// A file or a whiteout of an earlier merged layer is replaced
				// by this directory: what the lower layers had there stays
				// hidden, so the directory is opaque.
				opaque = opaque || dstExists
				if dstExists {
					if err := os.Remove(dst); err != nil {
						return fmt.Errorf("replacing %s: %w", p, err)
					}
				}
				if err := os.Mkdir(dst, 0o700); err != nil {
					return fmt.Errorf("making %s: %w", p, err)
				}
			}
			if opaque {
				if _, isDir, err := m.lowerHas(p); err != nil {
					return err
				} else if isDir {
					if err := layer.MarkOpaque(dst); err != nil {
						return fmt.Errorf("marking %s opaque: %w", p, err)
					}
				}
			}
			m.dirs[p] = up
			if err := m.apply(up, p); err != nil {
				return err
			}
		default:
			if dstExists {
				if err := os.RemoveAll(dst); err != nil {
					return fmt.Errorf("replacing %s: %w", p, err)
				}
				m.forgetDirs(p)
			}
			if err := os.Link(src, dst); err != nil {
				// Another filesystem, or protected_hardlinks without root:
				// a copy does, at the cost of the bytes.
				if cerr := copyEntry(src, dst, &st); cerr != nil {
					return fmt.Errorf("copying %s: %w (after linking failed: %v)", p, cerr, err)
				}
			}
		}
	}
	return nil
}

// forgetDirs drops p and the directories under it from m.dirs; with a
// trailing slash, only the directories under it.
func (m *merger) forgetDirs(p string) {
	under := strings.TrimSuffix(p, "/") + "/"
	for d := range m.dirs {
		if d == p || strings.HasPrefix(d, under) {
			delete(m.dirs, d)
		}
	}
}

// lowerHas looks p up in the lower layers as overlayfs does, top layer
// first: it reports whether the merged lower view has p, and whether p is a
// directory there.
func (m *merger) lowerHas(p string) (has, isDir bool, err error) {
	parts := strings.Split(p, "/")
	for i := len(m.lower) - 1; i >= 0; i-- {
		stop := false
		for k := range parts {
			prefix := strings.Join(parts[:k+1], "/")
			var st unix.Stat_t
			err := unix.Lstat(filepath.Join(m.lower[i], prefix), &st)
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				break
			}
			if err != nil {
				return false, false, fmt.Errorf("looking up %s in a lower layer: %w", p, err)
			}
			if isWhiteout(&st) {
				return false, false, nil
			}
			dir := st.Mode&unix.S_IFMT == unix.S_IFDIR
			if k == len(parts)-1 {
				return true, dir, nil
			}
			if !dir {
				return false, false, nil
			}
			if o, err := layer.IsOpaque(filepath.Join(m.lower[i], prefix)); err != nil {
				return false, false, err
			} else if o {
				stop = true
			}
		}
		if stop {
			return false, false, nil
		}
	}
	return false, false, nil
}

// finishDirs gives every directory of the result the owner, mode, xattrs
// and times of the upper layer directory it came from, deepest first so that
// setting a child's times leaves its parent's alone.
func (m *merger) finishDirs() error {
	paths := make([]string, 0, len(m.dirs))
	for p := range m.dirs {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return paths[i] > paths[j] })
	for _, p := range paths {
		if err := copyMeta(filepath.Join(m.dirs[p], p), filepath.Join(m.dst, p)); err != nil {
			return fmt.Errorf("setting the metadata of %s: %w", p, err)
		}
	}
	return nil
}

// copyEntry copies the non-directory src, whose stat is st, to dst with
// its metadata.
func copyEntry(src, dst string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
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
	default:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	return copyMeta(src, dst)
}

// copyMeta copies owner, mode (but a symlink's), xattrs (but the overlay
// ones) and times of src onto dst, not following symlinks.
func copyMeta(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// After the chown, which clears setuid and setgid.
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	if err := layer.CopyXattrs(src, dst); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// count walks the result and counts its entries and whiteouts.
func (m *merger) count(dir string) (MergeStats, error) {
	var st MergeStats
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		st.Entries++
		if d.Type()&os.ModeCharDevice != 0 {
			var s unix.Stat_t
			if err := unix.Lstat(p, &s); err == nil && isWhiteout(&s) {
				st.Whiteouts++
			}
		}
		return nil
	})
	if err != nil {
		return MergeStats{}, fmt.Errorf("counting the merged tree: %w", err)
	}
	return st, nil
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// clearDir removes the children of dir.
func clearDir(dir string) error {
	names, err := readNames(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("reading directory %s: %w", dir, err)
	}
	slices.Sort(names)
	return names, nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
