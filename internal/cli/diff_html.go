package cli

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"

	"github.com/strata-build/strata/internal/analyze"
	"github.com/strata-build/strata/internal/imgdiff"
)

// maxHTMLFileChanges is how many file changes, largest first, the diff page
// lists.
const maxHTMLFileChanges = 200

// writeHTMLDiff writes d as one self-contained HTML page: the summaries,
// the package changes with a bar per byte delta, and the largest file
// changes. When the script has drawn, <body> carries data-drawn="true".
func writeHTMLDiff(path, a, b string, d *analyze.ImageDiff) error {
	files := append([]imgdiff.Change(nil), d.Changes...)
	sort.SliceStable(files, func(i, j int) bool {
		return max(files[i].Size, files[i].OldSize) > max(files[j].Size, files[j].OldSize)
	})
	if len(files) > maxHTMLFileChanges {
		files = files[:maxHTMLFileChanges]
	}
	data := struct {
		A, B  string
		Diff  *analyze.ImageDiff
		Files []imgdiff.Change
	}{a, b, d, files}
	var buf bytes.Buffer
	if err := htmlDiff.Execute(&buf, data); err != nil {
		return fmt.Errorf("rendering the HTML diff: %w", err)
	}
	return writePage(path, buf.Bytes())
}

var htmlDiff = template.Must(template.New("diff").Funcs(template.FuncMap{
	"size":   humanSize,
	"signed": signedSize,
}).Parse(htmlDiffSource))

const htmlDiffSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>strata diff {{.A}} {{.B}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: right; }
td.name, th.name, td.path { text-align: left; font-family: monospace; }
tr:nth-child(even) { background: #f4f4f4; }
.removed { color: #b00; } .added { color: #060; } .upgraded, .resized { color: #a60; }
#delta-chart { border: 1px solid #ccc; display: block; } #delta-chart text { font: 11px sans-serif; }
.legend { margin: .4em 0 1em; font-size: 12px; } .legend span { margin-right: 1.2em; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; border: 1px solid #999; }
</style>
</head>
<body>
<h1>strata diff {{.A}} → {{.B}}</h1>
{{with .Diff}}
<p>Files: {{.Summary.Added}} added ({{size .Summary.AddedBytes}}), {{.Summary.Deleted}} deleted ({{size .Summary.DeletedBytes}}), {{.Summary.Changed}} changed ({{size .Summary.ChangedOldBytes}} → {{size .Summary.ChangedBytes}}).</p>
<p>Packages: {{.PackagesSummary.Added}} added ({{size .PackagesSummary.AddedBytes}}), {{.PackagesSummary.Removed}} removed ({{size .PackagesSummary.RemovedBytes}}), {{.PackagesSummary.Upgraded}} upgraded; package bytes {{signed .PackagesSummary.Delta}}.</p>
<h2>Package byte changes</h2>
<svg id="delta-chart" width="900" height="40" role="img" aria-label="package byte changes"></svg>
<div class="legend"><span><i style="background:#59a14f"></i>bytes added (package added, or grown)</span><span><i style="background:#e15759"></i>bytes removed (package removed, or shrunk)</span></div>
<table>
<tr><th></th><th class="name">package</th><th class="name">manager</th><th class="name">version</th><th>bytes before</th><th>bytes after</th><th>delta</th></tr>
{{range .Packages}}<tr class="{{.Kind}}"><td>{{.Kind}}</td><td class="name">{{.Name}}</td><td class="name">{{.Manager}}</td><td class="name">{{if .OldVersion}}{{.OldVersion}}{{if and .Version (ne .OldVersion .Version)}} → {{.Version}}{{end}}{{else}}{{.Version}}{{end}}</td><td>{{size .OldBytes}}</td><td>{{size .Bytes}}</td><td>{{signed .Delta}}</td></tr>
{{else}}<tr><td colspan="7">no package changes</td></tr>{{end}}
</table>
{{end}}
<h2>Largest file changes</h2>
<table>
<tr><th></th><th class="name">path</th><th>size before</th><th>size after</th></tr>
{{range .Files}}<tr><td>{{.Kind}}</td><td class="path">{{.Path}}</td><td>{{if .OldSize}}{{size .OldSize}}{{else}}-{{end}}</td><td>{{size .Size}}</td></tr>
{{else}}<tr><td colspan="4">no file changes</td></tr>{{end}}
</table>
<script>
(function () {
  "use strict";
  const changes = {{.Diff.Packages}} || [];
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.getElementById("delta-chart");
  const shown = changes.slice(0, 40);
  const W = +svg.getAttribute("width"), rowH = 16, left = 230, mid = left + (W - left) / 2;
  svg.setAttribute("height", String(Math.max(40, shown.length * rowH + 10)));
  const most = Math.max(1, ...shown.map(c => Math.abs(c.delta)));
  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  }
  shown.forEach((c, i) => {
    const w = (W - left - 10) / 2 * Math.abs(c.delta) / most, y = 5 + i * rowH;
    el("text", {x: 4, y: y + 11}, c.name.slice(0, 34));
    el("rect", {x: c.delta < 0 ? mid - w : mid, y: y, width: Math.max(1, w), height: rowH - 3,
      fill: c.delta < 0 ? "#e15759" : "#59a14f", "class": "delta", "data-name": c.name});
  });
  el("line", {x1: mid, y1: 0, x2: mid, y2: 10 + shown.length * rowH, stroke: "#888"});
  document.body.setAttribute("data-deltas", String(shown.length));
  document.body.setAttribute("data-drawn", "true");
})();
</script>
</body>
</html>
`
