package analyze

import (
	"fmt"
	"path"
	"sort"
	"strings"

	units "github.com/docker/go-units"
)

// finder builds the findings of one report.
type finder struct {
	fs      *replay
	rows    map[int]*Row // layer → its row
	file    string       // the Dockerfile's name, "" without one
	opts    Options
	results []Finding
	books   []bookCopy // bookkeeping files later layers rewrote
}

// findings returns what could make the image smaller, and the risks, most
// important first: the layer count, then by bytes saved.
func findings(fs *replay, rows map[int]*Row, opts Options) []Finding {
	f := &finder{fs: fs, rows: rows, opts: opts}
	if opts.Dockerfile != nil {
		f.file = opts.Dockerfile.File
	}
	if len(fs.stats) > opts.MaxLayers {
		f.results = append(f.results, Finding{
			Kind:    LayerCount,
			Layer:   -1,
			Message: fmt.Sprintf("the image has %d layers: overlayfs fails to mount near 125 and every layer slows pulls and mounts", len(fs.stats)),
			Fix:     "merge consecutive RUN instructions with &&, build with --squash, or copy the result of a build stage in one COPY",
		})
	}
	for i := range fs.stats {
		f.deletedLater(i)
		f.overwritten(i)
		f.copiedUp(i)
	}
	f.bookkeepingFinding()
	f.packageCaches()
	f.buildTools()
	sort.SliceStable(f.results, func(a, b int) bool {
		ra, rb := f.results[a], f.results[b]
		if (ra.Kind == LayerCount) != (rb.Kind == LayerCount) {
			return ra.Kind == LayerCount
		}
		if ra.Bytes != rb.Bytes {
			return ra.Bytes > rb.Bytes
		}
		return ra.Layer < rb.Layer
	})
	if f.results == nil {
		return []Finding{}
	}
	return f.results
}

// newFinding returns a finding about layer l with its instruction and line.
func (f *finder) newFinding(kind Kind, l int, bytes int64) Finding {
	fd := Finding{Kind: kind, Layer: l, Bytes: bytes}
	if r := f.rows[l]; r != nil {
		fd.Instruction, fd.Line = r.Instruction, r.Line
	}
	return fd
}

// layerRef names layer l for a message: "layer 3 (Dockerfile:5)".
func (f *finder) layerRef(l int) string {
	if r := f.rows[l]; r != nil && r.Line > 0 && f.file != "" {
		return fmt.Sprintf("layer %d (%s:%d)", l, f.file, r.Line)
	}
	return fmt.Sprintf("layer %d", l)
}

// sources turns a source layer → bytes map into Sources and their names.
func (f *finder) sources(m map[int]int64) ([]Source, string) {
	var out []Source
	for l, b := range m {
		if b > 0 {
			s := Source{Layer: l, Bytes: b}
			if r := f.rows[l]; r != nil {
				s.Line = r.Line
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Layer < out[b].Layer })
	names := make([]string, len(out))
	for i, s := range out {
		names[i] = f.layerRef(s.Layer)
	}
	text := strings.Join(names, ", ")
	if len(names) > 1 {
		text = "layers " + strings.ReplaceAll(strings.Join(names[:len(names)-1], ", ")+" and "+names[len(names)-1], "layer ", "")
	}
	return out, text
}

// examplePaths returns up to five paths of ps, largest first.
func examplePaths(ps []PathSize) []string {
	ps = append([]PathSize(nil), ps...)
	sort.SliceStable(ps, func(a, b int) bool { return ps[a].Size > ps[b].Size })
	var out []string
	for _, p := range ps {
		if len(out) == 5 {
			break
		}
		out = append(out, p.Path)
	}
	return out
}

func total(m map[int]int64) int64 {
	var n int64
	for _, b := range m {
		n += b
	}
	return n
}

// deletedLater reports layer i deleting what earlier layers added.
func (f *finder) deletedLater(i int) {
	st := f.fs.stats[i]
	bytes := total(st.deleted)
	if bytes < f.opts.MinBytes {
		return
	}
	fd := f.newFinding(DeletedLater, i, bytes)
	var text string
	fd.Sources, text = f.sources(st.deleted)
	fd.Paths = examplePaths(st.deletedPaths)
	fd.Message = fmt.Sprintf("%s saves nothing: the %s it deletes were added by %s", describe(fd.Instruction, i), size(bytes), text)
	fd.Fix = "delete in the same RUN that created them, or copy only what you need in a multi-stage build"
	if f.ownSources(fd.Sources) {
		fd.Fix += "; or build with --squash"
	}
	if ins := fd.Instruction; strings.Contains(ins, "apt-get remove") || strings.Contains(ins, "apt-get purge") ||
		strings.Contains(ins, "apt-get autoremove") || strings.Contains(ins, "apk del") {
		fd.Fix = "remove the packages in the RUN that installed them (install, use and purge in one RUN), or install them only in a build stage of a multi-stage build"
	}
	f.results = append(f.results, fd)
}

// overwritten reports layer i writing again files earlier layers wrote,
// leaving out copy-ups and package-manager bookkeeping (reported apart).
func (f *finder) overwritten(i int) {
	st := f.fs.stats[i]
	rest := map[int]int64{}
	var paths []PathSize
	for _, p := range st.overwrittenPaths {
		if bookkeeping(p.Path) {
			f.books = append(f.books, bookCopy{layer: i, PathSize: p})
			continue
		}
		rest[p.Layer] += p.Size
		paths = append(paths, p)
	}
	bytes := total(rest)
	if bytes < f.opts.MinBytes {
		return
	}
	fd := f.newFinding(Overwritten, i, bytes)
	var text string
	fd.Sources, text = f.sources(rest)
	fd.Paths = examplePaths(paths)
	n := len(paths)
	fd.Message = fmt.Sprintf("%s writes again %d %s that %s wrote already: the %s of earlier copies are still in the image",
		describe(fd.Instruction, i), n, plural(n, "file", "files"), text, size(bytes))
	fd.Fix = "write each file once: do the work in one RUN, or order the instructions so that later layers do not rewrite earlier files"
	if strings.HasPrefix(fd.Paths[0], "/var/cache/apt/") || strings.HasPrefix(fd.Paths[0], "/var/lib/apt/lists/") {
		fd.Fix = "run apt-get update, install and clean (`rm -rf /var/lib/apt/lists/* && apt-get clean`) in one RUN, so that no later RUN rewrites apt's caches"
	}
	if f.ownSources(fd.Sources) {
		fd.Fix += "; or build with --squash"
	}
	f.results = append(f.results, fd)
}

// ownSources reports whether all sources are layers of the Dockerfile given
// (they have a line), which --squash merges.
func (f *finder) ownSources(srcs []Source) bool {
	if f.file == "" || len(srcs) == 0 {
		return false
	}
	for _, s := range srcs {
		if s.Line == 0 {
			return false
		}
	}
	return true
}

// bookCopy is an earlier copy of a package manager's bookkeeping file that
// layer rewrote.
type bookCopy struct {
	layer int
	PathSize
}

// bookkeepingDirs are where package managers keep the state every install
// rewrites: the database, the logs, the debconf and ld.so caches.
var bookkeepingDirs = []string{
	"/var/lib/dpkg/", "/var/cache/debconf/", "/var/log/", "/var/lib/apt/extended_states",
	"/var/cache/ldconfig/", "/etc/ld.so.cache", "/lib/apk/db/", "/var/lib/rpm/", "/var/lib/dnf/",
	"/usr/lib/sysimage/rpm/", "/etc/apk/world",
}

// bookkeeping reports whether p is a package manager's bookkeeping file.
func bookkeeping(p string) bool {
	for _, d := range bookkeepingDirs {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}

// bookkeepingFinding reports once, for the image, the copies of package
// manager bookkeeping that later installs hid.
func (f *finder) bookkeepingFinding() {
	var bytes int64
	bySource := map[int]int64{}
	layers := map[int]bool{}
	last := -1
	var paths []PathSize
	for _, b := range f.books {
		bytes += b.Size
		bySource[b.Layer] += b.Size
		layers[b.layer] = true
		last = max(last, b.layer)
		paths = append(paths, b.PathSize)
	}
	if bytes < f.opts.MinBytes {
		return
	}
	fd := f.newFinding(Bookkeeping, last, bytes)
	var text string
	fd.Sources, text = f.sources(bySource)
	fd.Paths = examplePaths(paths)
	fd.Message = fmt.Sprintf("package-manager bookkeeping: %d later %s rewrote the package database and logs that %s wrote (%s of earlier copies); "+
		"every install does this, no single line is at fault", len(layers), plural(len(layers), "layer", "layers"), text, size(bytes))
	fd.Fix = "install all packages in one RUN (or in a build stage) to write the database once"
	if f.ownSources(fd.Sources) {
		fd.Fix += ", or build with --squash to keep only its last copy"
	} else {
		fd.Fix += "; the base image's copy stays unless you --squash-all"
	}
	f.results = append(f.results, fd)
}

// pattern is a path glob of the final filesystem, one path.Match pattern
// per component, relative to the root.
type pattern struct {
	label, glob string
}

// cache is a package manager cache and its fix.
type cache struct {
	label string
	globs []string
	fix   string
}

var caches = []cache{
	{"apt package lists", []string{"var/lib/apt/lists"},
		"end the RUN that runs apt-get update and install with `&& rm -rf /var/lib/apt/lists/*`, or mount a cache there (RUN --mount=type=cache,target=/var/lib/apt/lists)"},
	{"apt cache", []string{"var/cache/apt"},
		"run `apt-get clean` in the RUN that runs apt-get install, or mount a cache there (RUN --mount=type=cache,target=/var/cache/apt)"},
	{"apk cache", []string{"var/cache/apk", "etc/apk/cache"}, "use `apk add --no-cache`"},
	{"pip cache", []string{"root/.cache/pip", "home/*/.cache/pip"},
		"use `pip install --no-cache-dir`, or RUN --mount=type=cache,target=/root/.cache/pip"},
	{"npm cache", []string{"root/.npm", "home/*/.npm"},
		"run `npm cache clean --force` in the RUN that runs npm install, or RUN --mount=type=cache,target=/root/.npm"},
	{"yarn cache", []string{"usr/local/share/.cache/yarn", "root/.cache/yarn"},
		"run `yarn cache clean` in the RUN that runs yarn install, or RUN --mount=type=cache,target=/usr/local/share/.cache/yarn"},
	{"Go build cache", []string{"root/.cache/go-build", "home/*/.cache/go-build"},
		"build in a separate stage and copy the binary, or RUN --mount=type=cache,target=/root/.cache/go-build"},
	{"Go module cache", []string{"go/pkg/mod", "root/go/pkg/mod"},
		"build in a separate stage and copy the binary, or RUN --mount=type=cache,target=/go/pkg/mod"},
}

// buildTools are what a final image rarely needs: compilers, headers, build
// tools and toolchains.
var buildTools = []pattern{
	{"gcc", "usr/bin/gcc*"},
	{"gcc", "usr/bin/*-linux-gnu-gcc*"},
	{"g++", "usr/bin/g++*"},
	{"g++", "usr/bin/*-linux-gnu-g++*"},
	{"cc1", "usr/lib/gcc/*/*/cc1"},
	{"cc1", "usr/libexec/gcc/*/*/cc1"},
	{"gcc", "usr/lib/gcc"},
	{"gcc", "usr/libexec/gcc"},
	{"clang", "usr/bin/clang*"},
	{"clang", "usr/lib/llvm-*"},
	{"headers (/usr/include)", "usr/include"},
	{"headers (/usr/include)", "usr/local/include"},
	{"make", "usr/bin/make"},
	{"binutils", "usr/bin/*-linux-gnu-ld*"},
	{"binutils", "usr/bin/*-linux-gnu-as"},
	{"go toolchain", "usr/local/go"},
	{"go toolchain", "usr/lib/go-*"},
	{"go toolchain", "usr/share/go-*"},
	{"rust toolchain", "root/.rustup"},
	{"rust toolchain", "usr/local/rustup"},
}

// match returns the nodes of the final filesystem that glob names.
func (f *finder) match(glob string) []*node {
	nodes := []*node{f.fs.root}
	for _, part := range strings.Split(glob, "/") {
		var next []*node
		for _, n := range nodes {
			for name, c := range n.children {
				if ok, _ := path.Match(part, name); ok {
					next = append(next, c)
				}
			}
		}
		nodes = next
	}
	return nodes
}

// gather sums the bytes of nodes, counting a node below another once, and
// returns the layer that wrote most of them and the paths, largest first.
func gather(nodes []*node) (bytes int64, layer int, paths []PathSize) {
	in := map[*node]bool{}
	for _, n := range nodes {
		in[n] = true
	}
	perLayer := map[int]int64{}
	for _, n := range nodes {
		nested := false
		for p := n.parent; p != nil; p = p.parent {
			if in[p] {
				nested = true
				break
			}
		}
		if nested || n.total == 0 {
			continue
		}
		bytes += n.total
		paths = append(paths, PathSize{Path: pathOf(n), Size: n.total})
		walk(n, func(c *node) { perLayer[c.layer] += c.size })
	}
	layer, most := -1, int64(0)
	for l, b := range perLayer {
		if b > most || (b == most && l < layer) {
			layer, most = l, b
		}
	}
	return bytes, layer, paths
}

// packageCaches reports package manager caches left in the final image.
func (f *finder) packageCaches() {
	for _, c := range caches {
		var nodes []*node
		for _, g := range c.globs {
			nodes = append(nodes, f.match(g)...)
		}
		bytes, l, paths := gather(nodes)
		if bytes < f.opts.MinBytes {
			continue
		}
		fd := f.newFinding(PackageCache, l, bytes)
		fd.Paths = examplePaths(paths)
		fd.Message = fmt.Sprintf("%s left in the image: %s in %s",
			c.label, size(bytes), strings.Join(fd.Paths, ", "))
		fd.Fix = c.fix
		f.results = append(f.results, fd)
	}
}

// buildTools reports compilers, headers and toolchains in the final image.
func (f *finder) buildTools() {
	var nodes []*node
	var labels []string
	seen := map[string]bool{}
	for _, p := range buildTools {
		m := f.match(p.glob)
		if len(m) > 0 && !seen[p.label] {
			seen[p.label] = true
			labels = append(labels, p.label)
		}
		nodes = append(nodes, m...)
	}
	bytes, l, paths := gather(nodes)
	if bytes < f.opts.MinBytes {
		return
	}
	fd := f.newFinding(BuildTools, l, bytes)
	fd.Paths = examplePaths(paths)
	fd.Message = fmt.Sprintf("the final image holds build tools (%s): %s in %s",
		strings.Join(labels, ", "), size(bytes), strings.Join(fd.Paths, ", "))
	fd.Fix = "build in a separate stage and COPY --from it only what runs (multi-stage build); the final stage needs no compiler"
	f.results = append(f.results, fd)
}

// describe names layer i by its instruction, shortened, for a message.
func describe(ins string, i int) string {
	if ins == "" {
		return fmt.Sprintf("layer %d", i)
	}
	if r := []rune(ins); len(r) > 60 {
		ins = string(r[:59]) + "…"
	}
	return ins
}

// size formats bytes as docker does ("12.3MB").
func size(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), 3)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
