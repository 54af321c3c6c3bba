package imgdiff

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/store"
)

// Kind is how a path differs between two images, with docker diff's letters.
type Kind string

const (
	// Added is a path the second image has and the first lacks.
	Added Kind = "A"
	// Deleted is a path the first image has and the second lacks.
	Deleted Kind = "D"
	// Changed is a path both have, with other content, type or metadata.
	Changed Kind = "C"
)

// Change is one path that differs.
type Change struct {
	// Kind tells whether the path was added, deleted or changed.
	Kind Kind `json:"kind"`
	// Path is the absolute path in the image ("/etc/passwd").
	Path string `json:"path"`
	// Type is the entry's type in the second image (in the first for a
	// deleted path): file, dir, symlink, char, block or fifo.
	Type string `json:"type"`
	// Size is the file's size in bytes in the second image (in the first
	// for a deleted path); 0 for anything but a regular file.
	Size int64 `json:"size"`
	// OldSize is a changed file's size in the first image.
	OldSize int64 `json:"oldSize,omitempty"`
}

// Summary counts the changes and their bytes.
type Summary struct {
	Added        int   `json:"added"`
	AddedBytes   int64 `json:"addedBytes"`
	Deleted      int   `json:"deleted"`
	DeletedBytes int64 `json:"deletedBytes"`
	Changed      int   `json:"changed"`
	// ChangedBytes is the size of the changed files in the second image,
	// ChangedOldBytes in the first.
	ChangedBytes    int64 `json:"changedBytes"`
	ChangedOldBytes int64 `json:"changedOldBytes"`
}

// Result is the difference between two images' filesystems.
type Result struct {
	// Changes are sorted by path.
	Changes []Change `json:"changes"`
	// Summary counts them.
	Summary Summary `json:"summary"`
}

// Images compares the filesystems of a and b (each the merged view of its
// layers) and returns what b adds, deletes and changes. A path is changed
// when its type, content, size, mode, owner, link target, device numbers or
// xattrs differ; modification times are not compared, so a directory whose
// children changed is not listed unless it changed itself. The layers both
// images start with are read once.
func Images(ctx context.Context, a, b v1.Image) (*Result, error) {
	la, err := diffIDsAndLayers(a)
	if err != nil {
		return nil, fmt.Errorf("reading the first image: %w", err)
	}
	lb, err := diffIDsAndLayers(b)
	if err != nil {
		return nil, fmt.Errorf("reading the second image: %w", err)
	}
	common := 0
	for common < len(la) && common < len(lb) && la[common].diffID == lb[common].diffID {
		common++
	}
	shared := newTree()
	for i, l := range la[:common] {
		if err := shared.apply(ctx, l.layer); err != nil {
			return nil, fmt.Errorf("reading layer %d of both images: %w", i+1, err)
		}
	}
	ta := shared.clone()
	for i, l := range la[common:] {
		if err := ta.apply(ctx, l.layer); err != nil {
			return nil, fmt.Errorf("reading layer %d of the first image: %w", common+i+1, err)
		}
	}
	tb := shared
	for i, l := range lb[common:] {
		if err := tb.apply(ctx, l.layer); err != nil {
			return nil, fmt.Errorf("reading layer %d of the second image: %w", common+i+1, err)
		}
	}
	return compare(ta, tb), nil
}

type imgLayer struct {
	diffID v1.Hash
	layer  v1.Layer
}

func diffIDsAndLayers(img v1.Image) ([]imgLayer, error) {
	parts, err := store.ReadImageParts(img)
	if err != nil {
		return nil, fmt.Errorf("imgdiff: %w", err)
	}
	cfg, layers := parts.Config, parts.Layers
	out := make([]imgLayer, len(layers))
	for i, l := range layers {
		out[i] = imgLayer{diffID: cfg.RootFS.DiffIDs[i], layer: l}
	}
	return out, nil
}

// compare lists the differences from ta to tb.
func compare(ta, tb *tree) *Result {
	paths := make([]string, 0, len(ta.nodes)+len(tb.nodes))
	for p := range ta.nodes {
		paths = append(paths, p)
	}
	for p := range tb.nodes {
		if _, ok := ta.nodes[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	res := &Result{Changes: []Change{}}
	for _, p := range paths {
		na, nb := ta.nodes[p], tb.nodes[p]
		switch {
		case na == nil:
			res.Changes = append(res.Changes, Change{Kind: Added, Path: "/" + p, Type: nb.typeName(), Size: nb.size})
			res.Summary.Added++
			res.Summary.AddedBytes += nb.size
		case nb == nil:
			res.Changes = append(res.Changes, Change{Kind: Deleted, Path: "/" + p, Type: na.typeName(), Size: na.size})
			res.Summary.Deleted++
			res.Summary.DeletedBytes += na.size
		case *na != *nb:
			res.Changes = append(res.Changes, Change{Kind: Changed, Path: "/" + p, Type: nb.typeName(), Size: nb.size, OldSize: na.size})
			res.Summary.Changed++
			res.Summary.ChangedBytes += nb.size
			res.Summary.ChangedOldBytes += na.size
		}
	}
	return res
}

// node is what is compared of one path. It is a comparable value: two
// nodes are equal when the path did not change.
type node struct {
	typ          byte
	mode         int64
	uid, gid     int
	size         int64
	sum          [sha256.Size]byte
	link         string
	major, minor int64
	xattrs       string
}

func (n *node) typeName() string {
	switch n.typ {
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeChar:
		return "char"
	case tar.TypeBlock:
		return "block"
	case tar.TypeFifo:
		return "fifo"
	}
	return "file"
}

// tree is the merged filesystem of a stack of layers.
type tree struct {
	nodes map[string]*node
	kids  map[string]map[string]struct{} // directory → its children's paths
}

func newTree() *tree {
	return &tree{nodes: map[string]*node{}, kids: map[string]map[string]struct{}{}}
}

func (t *tree) clone() *tree {
	c := &tree{nodes: make(map[string]*node, len(t.nodes)), kids: make(map[string]map[string]struct{}, len(t.kids))}
	for p, n := range t.nodes {
		c.nodes[p] = n
	}
	for d, k := range t.kids {
		m := make(map[string]struct{}, len(k))
		for p := range k {
			m[p] = struct{}{}
		}
		c.kids[d] = m
	}
	return c
}

// entry is a layer tar entry read in the first pass of apply.
type entry struct {
	name string
	hdr  *tar.Header
	n    *node
}

// apply reads a layer and applies it: its whiteouts first (they hide what
// the layers below have, never what the same layer has), then its entries.
func (t *tree) apply(ctx context.Context, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var entries []entry
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := cleanName(hdr.Name)
		if name == "" {
			continue
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			t.removeChildren(dir)
			continue
		case strings.HasPrefix(base, ".wh."):
			t.remove(join(dir, strings.TrimPrefix(base, ".wh.")))
			continue
		}
		n := &node{typ: hdr.Typeflag, mode: hdr.Mode & 0o7777, uid: hdr.Uid, gid: hdr.Gid,
			major: hdr.Devmajor, minor: hdr.Devminor, xattrs: xattrsOf(hdr)}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			n.typ = tar.TypeReg
			h := sha256.New()
			size, err := io.CopyBuffer(h, tr, buf)
			if err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			n.size = size
			copy(n.sum[:], h.Sum(nil))
		case tar.TypeSymlink:
			n.link = hdr.Linkname
		}
		entries = append(entries, entry{name: name, hdr: hdr, n: n})
	}
	for _, e := range entries {
		n := e.n
		if e.hdr.Typeflag == tar.TypeLink {
			target, ok := t.nodes[cleanName(e.hdr.Linkname)]
			if !ok {
				return fmt.Errorf("%s: hardlink to %s, which the layers do not have", e.name, e.hdr.Linkname)
			}
			c := *target
			n = &c
		}
		t.put(e.name, n)
	}
	return nil
}

// put sets the node of p, dropping the subtree of a directory that a
// non-directory replaces.
func (t *tree) put(p string, n *node) {
	if old, ok := t.nodes[p]; ok && old.typ == tar.TypeDir && n.typ != tar.TypeDir {
		t.removeChildren(p)
	}
	t.nodes[p] = n
	dir := parent(p)
	k := t.kids[dir]
	if k == nil {
		k = map[string]struct{}{}
		t.kids[dir] = k
	}
	k[p] = struct{}{}
}

// remove deletes p and its subtree.
func (t *tree) remove(p string) {
	t.removeChildren(p)
	delete(t.nodes, p)
	if k := t.kids[parent(p)]; k != nil {
		delete(k, p)
	}
}

// removeChildren deletes everything under the directory p.
func (t *tree) removeChildren(p string) {
	for c := range t.kids[p] {
		t.removeChildren(c)
		delete(t.nodes, c)
	}
	delete(t.kids, p)
}

func parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// cleanName turns a tar entry name into a clean relative path ("" for the
// root).
func cleanName(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}

// xattrsOf returns the entry's xattrs as one sorted string.
func xattrsOf(hdr *tar.Header) string {
	var kv []string
	for k, v := range hdr.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			kv = append(kv, k+"="+v)
		}
	}
	sort.Strings(kv)
	return strings.Join(kv, "\x00")
}
