package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/layer"
)

// Native is the copy-based snapshotter: Prepare copies the merged lowers
// into a plain directory (by reflink where the filesystem can), the sandbox
// bind-mounts it, and Commit walks it against what was copied.
type Native struct {
	dir string
}

var _ Snapshotter = (*Native)(nil)

// index is what a native Prepare copied: per path, relative to the tree and
// slash-separated ("" is the root), where from and which inode it became.
type index struct {
	entries  map[string]*entry
	children map[string][]string // directory → its entries' names
}

type entry struct {
	src   string // the lower path it was copied from
	ino   uint64 // the tree's inode after Prepare
	typ   uint32 // its file type (S_IFMT bits)
	gen   uint64 // a directory's inode generation: inode numbers are reused
	ctime unix.Timespec
	mtime unix.Timespec
	size  int64
}

// Prepare copies the merged view of lowers into a new tree.
func (n *Native) Prepare(ctx context.Context, lowers []string) (*Snapshot, error) {
	s, err := n.prepare(ctx, lowers, false)
	if err != nil {
		return nil, fmt.Errorf("preparing a native snapshot: %w", err)
	}
	return s, nil
}

// View makes the merged view of lowers as a new tree mounted read-only:
// its regular files are hard links to the lowers' (a copy where a link is
// refused), since nothing writes to a view.
func (n *Native) View(ctx context.Context, lowers []string) (*Snapshot, error) {
	s, err := n.prepare(ctx, lowers, true)
	if err != nil {
		return nil, fmt.Errorf("preparing a native view: %w", err)
	}
	s.mount.ReadOnly = true
	s.base = nil
	return s, nil
}

// prepare merges lowers into a new tree; view links its regular files to
// the lowers' and records no index, as nothing is committed from it.
func (n *Native) prepare(ctx context.Context, lowers []string, view bool) (*Snapshot, error) {
	dir, err := os.MkdirTemp(n.dir, "snap-")
	if err != nil {
		return nil, err
	}
	tree := filepath.Join(dir, "tree")
	m := &merger{ctx: ctx, tree: tree, idx: &index{entries: map[string]*entry{}, children: map[string][]string{}},
		links: map[linkKey]string{}, linkLowers: view}
	if err := m.root(lowers); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if view {
		return &Snapshot{dir: dir, mount: Mount{Lower: append([]string(nil), lowers...), Tree: tree}}, nil
	}
	if err := m.idx.record(tree); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Snapshot{dir: dir, mount: Mount{Lower: append([]string(nil), lowers...), Tree: tree}, base: m.idx}, nil
}

// Commit writes the changes made in the tree as a layer dir.
func (n *Native) Commit(ctx context.Context, s *Snapshot) (string, error) {
	if s.mount.ReadOnly || s.base == nil {
		return "", errors.New("snapshot: committing a read-only view")
	}
	if s.upper != "" {
		return "", errors.New("snapshot: committed twice")
	}
	upper := filepath.Join(s.dir, "upper")
	if err := diffTree(ctx, s.mount.Tree, upper, s.base); err != nil {
		return "", fmt.Errorf("committing a native snapshot: %w", err)
	}
	s.upper = upper
	return upper, nil
}

// Remove removes the tree and what Commit left.
func (n *Native) Remove(s *Snapshot) error { return removeSnapshot(s) }

// merger copies a stack of layer dirs into one tree.
type merger struct {
	ctx   context.Context
	tree  string
	idx   *index
	links map[linkKey]string // a lower inode → the tree path it was copied to
	dirs  []dirTimes         // set once their entries are written
	// linkLowers makes regular files hard links to the lowers' files
	// instead of copies: for views, which nothing writes to.
	linkLowers bool
}

type linkKey struct{ dev, ino uint64 }

type dirTimes struct {
	path string
	st   unix.Stat_t
}

// root makes the tree's root from the top-most lower and merges below it.
func (m *merger) root(lowers []string) error {
	if err := os.Mkdir(m.tree, 0o755); err != nil {
		return err
	}
	if len(lowers) > 0 {
		var st unix.Stat_t
		if err := unix.Lstat(lowers[0], &st); err != nil {
			return err
		}
		if err := copyMeta(lowers[0], m.tree, &st); err != nil {
			return err
		}
		m.dirs = append(m.dirs, dirTimes{m.tree, st})
	}
	m.idx.entries[""] = &entry{src: firstOr(lowers)}
	merged := lowers
	for i, l := range lowers {
		opaque, err := layer.IsOpaque(l)
		if err != nil {
			return err
		}
		if opaque { // a layer made of a whole tree hides the ones below
			merged = lowers[:i+1]
			break
		}
	}
	if err := m.dir("", merged); err != nil {
		return err
	}
	for i := len(m.dirs) - 1; i >= 0; i-- { // children before parents
		if err := setTimes(m.dirs[i].path, &m.dirs[i].st); err != nil {
			return err
		}
	}
	return nil
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// dir merges the directory rel of layers (top first, each of which has it as
// a directory) into the tree.
func (m *merger) dir(rel string, layers []string) error {
	if err := m.ctx.Err(); err != nil {
		return err
	}
	var names []string
	seen := map[string]bool{}
	for _, l := range layers {
		f, err := os.Open(filepath.Join(l, rel))
		if err != nil {
			return err
		}
		ns, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return err
		}
		for _, n := range ns {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if err := m.name(joinRel(rel, name), layers); err != nil {
			return err
		}
	}
	return nil
}

// name merges the path rel: the top-most layer that has it decides, and a
// directory merges with the same directory of the layers below it down to
// an opaque one or one that has something else there.
func (m *merger) name(rel string, layers []string) error {
	var st unix.Stat_t
	var below []string
	top := -1
	for i, l := range layers {
		p := filepath.Join(l, rel)
		var s unix.Stat_t
		if err := unix.Lstat(p, &s); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return err
		}
		if top < 0 {
			top, st = i, s
			if isWhiteout(&s) {
				return nil
			}
			if s.Mode&unix.S_IFMT != unix.S_IFDIR {
				return m.file(rel, layers[i], &st)
			}
		} else if isWhiteout(&s) || s.Mode&unix.S_IFMT != unix.S_IFDIR {
			break
		}
		below = append(below, l)
		opaque, err := layer.IsOpaque(p)
		if err != nil {
			return err
		}
		if opaque {
			break
		}
	}
	if top < 0 {
		return nil
	}
	dst := filepath.Join(m.tree, rel)
	src := filepath.Join(layers[top], rel)
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	if err := copyMeta(src, dst, &st); err != nil {
		return err
	}
	m.dirs = append(m.dirs, dirTimes{dst, st})
	m.add(rel, src)
	return m.dir(rel, below)
}

// file copies the non-directory at rel of the layer dir l into the tree,
// as a hard link to an earlier copy of the same inode of the same layer.
func (m *merger) file(rel, l string, st *unix.Stat_t) error {
	src := filepath.Join(l, rel)
	dst := filepath.Join(m.tree, rel)
	m.add(rel, src)
	if m.linkLowers && st.Mode&unix.S_IFMT == unix.S_IFREG {
		if err := os.Link(src, dst); err == nil {
			return nil
		} // refused (another filesystem, too many links, protected_hardlinks): copy
	}
	key := linkKey{st.Dev, st.Ino}
	if st.Nlink > 1 {
		if first, ok := m.links[key]; ok {
			return os.Link(first, dst)
		}
		m.links[key] = dst
	}
	return copyEntry(src, dst, st)
}

func (m *merger) add(rel, src string) {
	m.idx.entries[rel] = &entry{src: src}
	parent := parentRel(rel)
	m.idx.children[parent] = append(m.idx.children[parent], filepath.Base(rel))
}

// record notes the inode and times each entry has in the tree.
func (x *index) record(tree string) error {
	for rel, e := range x.entries {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(tree, rel), &st); err != nil {
			return err
		}
		e.ino, e.typ, e.ctime, e.mtime, e.size = st.Ino, st.Mode&unix.S_IFMT, st.Ctim, st.Mtim, st.Size
		if e.typ == unix.S_IFDIR {
			g, err := generation(filepath.Join(tree, rel))
			if err != nil {
				return err
			}
			e.gen = g
		}
	}
	return nil
}

// fsIocGetVersion is FS_IOC_GETVERSION, _IOR('v', 1, long), on 64-bit
// Linux (x/sys/unix lacks it); the kernel writes an int.
const fsIocGetVersion = 0x80087601

// generation identifies a directory's inode beyond its number, which a
// directory made right after one was removed often gets again: the inode's
// generation (FS_IOC_GETVERSION: ext4, xfs, btrfs, tmpfs), else its birth
// time.
func generation(dir string) (uint64, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if g, err := unix.IoctlGetUint32(fd, fsIocGetVersion); err == nil {
		return uint64(g), nil
	}
	var sx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &sx); err != nil {
		return 0, err
	}
	return uint64(sx.Btime.Sec)*1e9 + uint64(sx.Btime.Nsec), nil
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func parentRel(rel string) string {
	if i := lastSlash(rel); i >= 0 {
		return rel[:i]
	}
	return ""
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}
