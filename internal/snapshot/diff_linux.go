package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/layer"
)

// differ finds what changed in a native tree since Prepare.
type differ struct {
	ctx   context.Context
	tree  string
	base  *index
	ops   map[string]op       // path → what to write into the upper dir
	links map[uint64][]string // inode → its names, for files with several
	moved map[uint64]bool     // inodes of files the layer has
}

type opKind int

const (
	opDir      opKind = iota // a directory: made, given the tree dir's metadata
	opMove                   // a file, or a whole new subtree: renamed in
	opWhiteout               // a deleted path
)

type op struct {
	kind   opKind
	opaque bool // a directory that replaced what the lowers had
}

// diffTree writes into the new directory upper what changed in tree since
// base was recorded, in overlay upper-dir format. It moves files out of the
// tree, which is of no further use.
func diffTree(ctx context.Context, tree, upper string, base *index) error {
	d := &differ{ctx: ctx, tree: tree, base: base, ops: map[string]op{},
		links: map[uint64][]string{}, moved: map[uint64]bool{}}
	if err := d.walk(""); err != nil {
		return err
	}
	d.addLinked()
	d.addParents()
	return d.write(upper)
}

// walk compares the entries of the tree directory rel, which is the same
// directory as Prepare made, with the base.
func (d *differ) walk(rel string) error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(d.tree, rel))
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	present := make(map[string]bool, len(names))
	for _, name := range names {
		present[name] = true
		if err := d.entry(joinRel(rel, name)); err != nil {
			return err
		}
	}
	for _, name := range d.base.children[rel] {
		if !present[name] {
			d.ops[joinRel(rel, name)] = op{kind: opWhiteout}
		}
	}
	return nil
}

// entry decides about one path of the tree.
func (d *differ) entry(rel string) error {
	p := filepath.Join(d.tree, rel)
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	e := d.base.entries[rel]
	same := e != nil && e.ino == st.Ino && e.typ == st.Mode&unix.S_IFMT
	if same && isDir {
		g, err := generation(p)
		if err != nil {
			return err
		}
		same = g == e.gen
	}
	switch {
	case !same:
		// New, or replaced: a directory made where the lowers had
		// anything is opaque, as overlayfs makes it.
		d.ops[rel] = op{kind: opMove, opaque: isDir && e != nil}
		d.moved[st.Ino] = true
		if isDir {
			return d.noteLinks(rel)
		}
		d.noteLink(rel, &st)
		return nil
	case e.ctime == st.Ctim && e.mtime == st.Mtim && e.size == st.Size:
		// untouched
	default:
		changed, err := differs(e.src, p, &st)
		if err != nil {
			return fmt.Errorf("comparing %s: %w", rel, err)
		}
		if changed {
			if isDir {
				d.ops[rel] = op{kind: opDir}
			} else {
				d.ops[rel] = op{kind: opMove}
				d.moved[st.Ino] = true
			}
		}
	}
	if isDir {
		return d.walk(rel)
	}
	d.noteLink(rel, &st)
	return nil
}

func (d *differ) noteLink(rel string, st *unix.Stat_t) {
	if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		d.links[st.Ino] = append(d.links[st.Ino], rel)
	}
}

// noteLinks notes the multiply linked files of a new subtree, which the
// layer has.
func (d *differ) noteLinks(rel string) error {
	return filepath.WalkDir(filepath.Join(d.tree, rel), func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Nlink > 1 {
			d.moved[st.Ino] = true
			r, err := filepath.Rel(d.tree, p)
			if err != nil {
				return err
			}
			d.links[st.Ino] = append(d.links[st.Ino], filepath.ToSlash(r))
		}
		return nil
	})
}

// addLinked adds the other names of every inode the layer has, as
// overlayfs copies an inode up to link it and the layer then has them all.
func (d *differ) addLinked() {
	for ino, names := range d.links {
		if !d.moved[ino] {
			continue
		}
		for _, rel := range names {
			if d.inMoved(rel) {
				continue
			}
			d.ops[rel] = op{kind: opMove}
		}
	}
}

// inMoved reports whether rel is written already, itself or in a subtree
// moved whole.
func (d *differ) inMoved(rel string) bool {
	for r := rel; r != ""; r = parentRel(r) {
		if o, ok := d.ops[r]; ok && (r == rel || o.kind == opMove) {
			return true
		}
	}
	return false
}

// addParents adds every directory above a written path.
func (d *differ) addParents() {
	for rel := range maps.Clone(d.ops) {
		for r := parentRel(rel); r != ""; r = parentRel(r) {
			if _, ok := d.ops[r]; ok {
				break
			}
			d.ops[r] = op{kind: opDir}
		}
	}
}

// write makes upper from the ops, parents first, and gives the
// directories their metadata last (moving entries in changes their times).
func (d *differ) write(upper string) error {
	if err := os.Mkdir(upper, 0o755); err != nil {
		return err
	}
	paths := slices.Sorted(maps.Keys(d.ops)) // a parent is a prefix: it sorts first
	// The directories' metadata, read before moving anything out of them
	// changes their times.
	dirs := map[string]*unix.Stat_t{}
	for _, rel := range paths {
		if d.ops[rel].kind == opDir {
			st := new(unix.Stat_t)
			if err := unix.Lstat(filepath.Join(d.tree, rel), st); err != nil {
				return err
			}
			dirs[rel] = st
		}
	}
	for _, rel := range paths {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		o := d.ops[rel]
		src, dst := filepath.Join(d.tree, rel), filepath.Join(upper, rel)
		var err error
		switch o.kind {
		case opWhiteout:
			err = unix.Mknod(dst, unix.S_IFCHR, 0)
		case opMove:
			err = os.Rename(src, dst)
			if err == nil && o.opaque {
				err = layer.MarkOpaque(dst)
			}
		case opDir:
			err = os.Mkdir(dst, 0o700)
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
	}
	for i := len(paths) - 1; i >= 0; i-- { // children before parents
		st, ok := dirs[paths[i]]
		if !ok {
			continue
		}
		if err := copyMeta(filepath.Join(d.tree, paths[i]), filepath.Join(upper, paths[i]), st); err != nil {
			return err
		}
	}
	return nil
}

// differs reports whether the tree entry p (stat st) differs from the lower
// entry src it was copied from: in type, mode, owner, device, size, mtime,
// symlink target or xattrs, or, for regular files the same in all of that,
// in content.
func differs(src, p string, st *unix.Stat_t) (bool, error) {
	var o unix.Stat_t
	if err := unix.Lstat(src, &o); err != nil {
		return false, err
	}
	if o.Mode != st.Mode || o.Uid != st.Uid || o.Gid != st.Gid || o.Rdev != st.Rdev || o.Mtim != st.Mtim {
		return true, nil
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if !isDir && o.Size != st.Size {
		return true, nil
	}
	xa, err := xattrs(src)
	if err != nil {
		return false, err
	}
	xb, err := xattrs(p)
	if err != nil {
		return false, err
	}
	if !maps.EqualFunc(xa, xb, bytes.Equal) {
		return true, nil
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		a, err := os.Readlink(src)
		if err != nil {
			return false, err
		}
		b, err := os.Readlink(p)
		return a != b, err
	case unix.S_IFREG:
		same, err := sameContent(src, p)
		return !same, err
	}
	return false, nil
}

// sameContent compares two files of the same size byte by byte.
func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if errors.Is(ea, io.EOF) || errors.Is(ea, io.ErrUnexpectedEOF) {
			return errors.Is(eb, io.EOF) || errors.Is(eb, io.ErrUnexpectedEOF), nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}
