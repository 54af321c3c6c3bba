package analyze

import (
	"path"
	"sort"
	"strings"
)

// node is a path of the merged filesystem during the replay.
type node struct {
	name     string
	parent   *node
	children map[string]*node // directories only
	dir      bool
	link     string // a symlink's target
	meta     meta
	layer    int   // the layer that wrote it last
	size     int64 // file bytes (0 for directories, links and devices)
	total    int64 // subtree bytes, set by sum
}

// layerStats is what the replay learned about one layer.
type layerStats struct {
	added, changed, removed             int
	bytes                               int64         // file bytes the layer holds
	wasted                              int64         // of bytes, those later layers hide
	hidden                              int64         // earlier layers' bytes this layer hides
	deleted                             map[int]int64 // source layer → bytes this layer deletes
	overwritten                         map[int]int64 // source layer → bytes this layer writes again
	deletedPaths                        []PathSize    // what this layer deletes, Layer = main source
	overwrittenPaths                    []PathSize    // what this layer writes again, Layer = source
	copiedUp                            map[int]int64 // source layer → bytes this layer writes again with the same content
	copiedUpPaths                       []PathSize    // those files, Layer = source
	modeChanged, ownerChanged, sameMeta int           // how many of them changed mode, owner, or neither (touch, sed -i matching nothing)
}

// copyUp records that the layer wrote p again with the content src wrote.
func (st *layerStats) copyUp(src int, p string, bytes int64, old, new meta) {
	if st.copiedUp == nil {
		st.copiedUp = map[int]int64{}
	}
	st.copiedUp[src] += bytes
	st.copiedUpPaths = append(st.copiedUpPaths, PathSize{Path: p, Size: bytes, Layer: src})
	switch {
	case old.mode != new.mode:
		st.modeChanged++
	case old.uid != new.uid || old.gid != new.gid:
		st.ownerChanged++
	default:
		st.sameMeta++
	}
}

// replay applies layers in order over a model of the merged filesystem.
type replay struct {
	root   *node
	stats  []layerStats
	hidden *node // the files later layers hid, by their path then
}

func newReplay(layers int) *replay {
	r := &replay{
		root:   &node{dir: true, children: map[string]*node{}, layer: -1},
		stats:  make([]layerStats, layers),
		hidden: &node{dir: true, children: map[string]*node{}, layer: -1},
	}
	for i := range r.stats {
		r.stats[i].deleted = map[int]int64{}
		r.stats[i].overwritten = map[int]int64{}
	}
	return r
}

// apply replays the entries of layer i: whiteouts and opaque directories
// first (they hide only what earlier layers wrote), then the paths it writes.
func (r *replay) apply(i int, entries []entry) {
	st := &r.stats[i]
	for _, e := range entries {
		switch e.kind {
		case kindWhiteout:
			n := r.lookup(e.path)
			if n == nil || n == r.root {
				continue
			}
			delete(n.parent.children, n.name)
			bytes, files, src := r.hide(n, i, st.deleted)
			st.removed += files
			if bytes > 0 {
				st.deletedPaths = append(st.deletedPaths, PathSize{Path: "/" + e.path, Size: bytes, Layer: src})
			}
		case kindOpaque:
			n := r.lookup(e.path)
			if n == nil || !n.dir {
				continue
			}
			var bytes, most int64
			src := n.layer
			for name, c := range n.children {
				delete(n.children, name)
				b, files, s := r.hide(c, i, st.deleted)
				st.removed += files
				if b > most || (b == most && s < src) {
					src, most = s, b
				}
				bytes += b
			}
			if bytes > 0 {
				st.deletedPaths = append(st.deletedPaths, PathSize{Path: "/" + e.path + "/*", Size: bytes, Layer: src})
			}
		}
	}
	for _, e := range entries {
		if e.kind == kindDir || e.kind == kindFile {
			r.add(i, e)
		}
	}
}

// add writes the path of e in layer i.
func (r *replay) add(i int, e entry) {
	st := &r.stats[i]
	dir, base := path.Split(e.path)
	parent := r.mkdirAll(i, strings.TrimSuffix(dir, "/"))
	isDir := e.kind == kindDir
	if old := parent.children[base]; old != nil {
		switch {
		case old.dir && isDir:
			return // new metadata; the children stay
		case old.layer == i:
			// Written twice by one tar: the later entry wins.
			st.bytes -= old.size
		case old.dir:
			delete(parent.children, base)
			bytes, files, src := r.hide(old, i, st.overwritten)
			st.removed += files
			st.added++
			if bytes > 0 {
				st.overwrittenPaths = append(st.overwrittenPaths, PathSize{Path: "/" + e.path, Size: bytes, Layer: src})
			}
		default:
			delete(parent.children, base)
			bytes, _, src := r.hide(old, i, st.overwritten)
			st.changed++
			switch {
			case bytes > 0 && old.meta.sum != 0 && old.meta.sum == e.meta.sum && old.size == e.size:
				st.copyUp(src, "/"+e.path, bytes, old.meta, e.meta)
			case bytes > 0:
				st.overwrittenPaths = append(st.overwrittenPaths, PathSize{Path: "/" + e.path, Size: bytes, Layer: src})
			}
		}
	} else if !isDir {
		st.added++
	}
	n := &node{name: base, parent: parent, dir: isDir, link: e.link, meta: e.meta, layer: i, size: e.size}
	if isDir {
		n.children = map[string]*node{}
	}
	parent.children[base] = n
	st.bytes += e.size
}

// mkdirAll returns the directory p, creating missing ones (and replacing
// non-directories in the way) as written by layer i.
func (r *replay) mkdirAll(i int, p string) *node {
	n := r.root
	if p == "" {
		return n
	}
	for _, name := range strings.Split(p, "/") {
		c := n.children[name]
		if c != nil && !c.dir {
			delete(n.children, name)
			st := &r.stats[i]
			bytes, _, src := r.hide(c, i, st.overwritten)
			st.changed++
			if bytes > 0 {
				st.overwrittenPaths = append(st.overwrittenPaths, PathSize{Path: "/" + p, Size: bytes, Layer: src})
			}
			c = nil
		}
		if c == nil {
			c = &node{name: name, parent: n, dir: true, layer: i, children: map[string]*node{}}
			n.children[name] = c
		}
		n = c
	}
	return n
}

// hide accounts for the subtree of n, written by earlier layers, being
// deleted or overwritten by layer i: its bytes become waste of the layers
// that wrote them. It returns the bytes, the non-directories hidden and the
// layer that wrote most of the bytes.
func (r *replay) hide(n *node, i int, by map[int]int64) (bytes int64, files int, src int) {
	perLayer := map[int]int64{}
	walk(n, func(c *node) {
		if !c.dir {
			files++
		}
		if c.size == 0 {
			return
		}
		bytes += c.size
		r.addHidden(pathOf(c), c.size)
		perLayer[c.layer] += c.size
		r.stats[c.layer].wasted += c.size
		r.stats[i].hidden += c.size
		by[c.layer] += c.size
	})
	src = n.layer
	var most int64
	for l, b := range perLayer {
		if b > most || (b == most && l < src) {
			src, most = l, b
		}
	}
	return bytes, files, src
}

// addHidden adds size bytes at p (absolute) to the tree of hidden files.
func (r *replay) addHidden(p string, size int64) {
	n := r.hidden
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, name := range parts {
		c := n.children[name]
		if c == nil {
			c = &node{name: name, parent: n, dir: i < len(parts)-1, children: map[string]*node{}}
			n.children[name] = c
		}
		if i == len(parts)-1 {
			c.size += size
		}
		n = c
	}
}

// lookup returns the node at p, or nil.
func (r *replay) lookup(p string) *node {
	n := r.root
	if p == "" {
		return n
	}
	for _, name := range strings.Split(p, "/") {
		if n.children == nil {
			return nil
		}
		if n = n.children[name]; n == nil {
			return nil
		}
	}
	return n
}

// walk calls fn on n and every node below it.
func walk(n *node, fn func(*node)) {
	fn(n)
	for _, c := range n.children {
		walk(c, fn)
	}
}

// sum sets total on every node of the final filesystem.
func sum(n *node) int64 {
	n.total = n.size
	for _, c := range n.children {
		n.total += sum(c)
	}
	return n.total
}

// pathOf returns the absolute path of n.
func pathOf(n *node) string {
	var parts []string
	for ; n != nil && n.parent != nil; n = n.parent {
		parts = append(parts, n.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/")
}

// mainLayer returns the layer that wrote most of the bytes below n.
func mainLayer(n *node) int {
	perLayer := map[int]int64{}
	walk(n, func(c *node) { perLayer[c.layer] += c.size })
	best, most := n.layer, int64(-1)
	for l, b := range perLayer {
		if b > most || (b == most && l < best) {
			best, most = l, b
		}
	}
	return best
}

// largest returns the top largest files and directories of the final
// filesystem. sum must have run.
func (r *replay) largest(top int) (files, dirs []PathSize) {
	var fn, dn []*node
	walk(r.root, func(n *node) {
		switch {
		case n == r.root:
		case n.dir && !chain(n):
			dn = append(dn, n)
		case n.size > 0:
			fn = append(fn, n)
		}
	})
	files = topOf(fn, top, func(n *node) PathSize { return PathSize{Path: pathOf(n), Size: n.size, Layer: n.layer} })
	dirs = topOf(dn, top, func(n *node) PathSize { return PathSize{Path: pathOf(n), Size: n.total, Layer: mainLayer(n)} })
	return files, dirs
}

// chain reports whether all of n's bytes are in one child directory, so
// that listing n as well as that child says nothing new.
func chain(n *node) bool {
	for _, c := range n.children {
		if c.total == n.total && c.dir && n.total > 0 {
			return true
		}
	}
	return false
}

// topOf returns the top nodes by total size, largest first (ties by path).
func topOf(ns []*node, top int, conv func(*node) PathSize) []PathSize {
	sort.Slice(ns, func(a, b int) bool {
		if ns[a].total != ns[b].total {
			return ns[a].total > ns[b].total
		}
		return pathOf(ns[a]) < pathOf(ns[b])
	})
	out := []PathSize{}
	for _, n := range ns {
		if len(out) == top || n.total == 0 {
			break
		}
		out = append(out, conv(n))
	}
	return out
}

// tree returns the final filesystem as Nodes, folding the entries of each
// directory smaller than min into one "…" child. sum must have run.
func (r *replay) tree(min int64) *Node {
	return treeOf(r.root, "/", min)
}

func treeOf(n *node, name string, min int64) *Node {
	out := &Node{Name: name, Size: n.total}
	if !n.dir {
		return out
	}
	var rest int64
	for _, c := range n.children {
		if c.total == 0 {
			continue
		}
		if c.total < min || c.total == 0 {
			rest += c.total
			continue
		}
		out.Children = append(out.Children, treeOf(c, c.name, min))
	}
	sort.Slice(out.Children, func(a, b int) bool {
		if out.Children[a].Size != out.Children[b].Size {
			return out.Children[a].Size > out.Children[b].Size
		}
		return out.Children[a].Name < out.Children[b].Name
	})
	if rest > 0 {
		out.Children = append(out.Children, &Node{Name: "…", Size: rest})
	}
	return out
}
