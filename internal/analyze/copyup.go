package analyze

import (
	"fmt"
	"sort"
	"strings"
)

// copiedUp reports layer i writing again, whole, files an earlier layer
// wrote with the same content: a chmod, chown, touch or sed -i of files from
// another layer copies each of them into the new layer (overlayfs's copy-up),
// so their bytes are in the image twice.
func (f *finder) copiedUp(i int) {
	st := f.fs.stats[i]
	bytes := total(st.copiedUp)
	if bytes < f.opts.MinBytes {
		return
	}
	fd := f.newFinding(CopyUp, i, bytes)
	var text string
	fd.Sources, text = f.sources(st.copiedUp)
	fd.Paths = examplePaths(st.copiedUpPaths)
	n := len(st.copiedUpPaths)
	var what []string
	for _, c := range []struct {
		n    int
		text string
	}{{st.modeChanged, "a new mode"}, {st.ownerChanged, "a new owner"}, {st.sameMeta, "nothing changed but the time"}} {
		if c.n > 0 {
			what = append(what, fmt.Sprintf("%d with %s", c.n, c.text))
		}
	}
	fd.Message = fmt.Sprintf("%s copies %d %s of %s whole into its layer with the same content (%s): %s are in the image twice",
		describe(fd.Instruction, i), n, plural(n, "file", "files"), text, strings.Join(what, ", "), size(bytes))
	fd.Fix = f.copyUpFix(st.copiedUp)
	f.results = append(f.results, fd)
}

// copyUpFix says how to set the metadata where the files are written,
// naming the instruction that wrote most of them.
func (f *finder) copyUpFix(src map[int]int64) string {
	layers := make([]int, 0, len(src))
	for l := range src {
		layers = append(layers, l)
	}
	sort.Slice(layers, func(a, b int) bool { return src[layers[a]] > src[layers[b]] })
	main := layers[0]
	where := f.layerRef(main)
	ins := ""
	if r := f.rows[main]; r != nil {
		ins = r.Instruction
	}
	switch keyword(ins) {
	case "COPY", "ADD":
		return fmt.Sprintf("set the mode and owner where the files are copied, %s (%s), with --chmod and --chown (e.g. `%s --chmod=755 --chown=app:app ...`), and drop the chmod/chown from this RUN; or build with --squash",
			where, describe(ins, main), keyword(ins))
	case "RUN":
		return fmt.Sprintf("do the chmod/chown in the RUN that creates the files, %s (%s), not in a later one; or build with --squash",
			where, describe(ins, main))
	}
	return fmt.Sprintf("the files come from %s, not written by a COPY or RUN of this image (the base image?): change them in the RUN that needs them only if it must, "+
		"as every file touched is copied whole; only --squash-all (one layer of everything) removes the copies", where)
}
