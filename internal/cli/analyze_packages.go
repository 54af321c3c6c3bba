package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/strata-build/strata/internal/analyze"
)

// printPackages writes the top packages of rep by bytes with the layer and
// line that installed them, the unowned directories, and how the bytes of
// the layers add up.
func printPackages(w io.Writer, rep *analyze.Report, top int) {
	if len(rep.Packages) == 0 && len(rep.PackageNotes) == 0 {
		fmt.Fprintf(w, "\nPackages: none found (no dpkg, apk, Python, Node or Go package database)\n")
		return
	}
	fmt.Fprintf(w, "\nPackages: %d, %s of the final %s (unowned %s):\n",
		len(rep.Packages), humanSize(rep.PackageBytes), humanSize(rep.FinalBytes), humanSize(rep.UnownedBytes))
	tw := tabwriter.NewWriter(w, 4, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "  SIZE\tPACKAGE\tVERSION\tMANAGER\tLAYER\tLINE\tPULLED IN BY")
	for i, p := range rep.Packages {
		if i == top {
			break
		}
		layer, line := "-", "-"
		if p.Layer >= 0 {
			layer = strconv.Itoa(p.Layer)
		}
		if p.Line > 0 && rep.Dockerfile != "" {
			line = fmt.Sprintf("%s:%d", rep.Dockerfile, p.Line)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", humanSize(p.Bytes), p.Name, ellipsis(p.Version, 24), p.Manager, layer, line, pulledBy(p))
	}
	tw.Flush()
	if n := len(rep.Packages) - top; n > 0 {
		fmt.Fprintf(w, "  … %d more (--json lists all)\n", n)
	}
	for _, n := range rep.PackageNotes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if len(rep.Unowned) > 0 {
		printPaths(w, "Unowned files by directory", rep.Unowned[:min(top, len(rep.Unowned))])
	}
	var owned, free, size int64
	for _, r := range rep.Rows {
		owned += r.PackageBytes
		free += r.UnownedBytes
		size += r.Size
	}
	fmt.Fprintf(w, "\nLayers: %s = %s of package files + %s of unowned files + %s of tar headers and padding (hidden files included)\n",
		humanSize(size), humanSize(owned), humanSize(free), humanSize(size-owned-free))
}

// pulledBy says why a package is there: "auto, for gcc, g++ …" when apt
// installed it for others, the packages needing it otherwise.
func pulledBy(p analyze.Package) string {
	need := p.RequiredBy
	more := ""
	if len(need) > 3 {
		more = fmt.Sprintf(" +%d", len(need)-3)
		need = need[:3]
	}
	s := strings.Join(need, ", ") + more
	switch {
	case p.Auto && s != "":
		return "auto: " + s
	case p.Auto:
		return "auto"
	case s == "":
		return "-"
	}
	return "needed by " + s
}
