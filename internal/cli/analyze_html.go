package cli

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"

	"github.com/strata-build/strata/internal/analyze"
)

// writeHTMLReport writes rep as one self-contained HTML page: the tables and
// findings as HTML, and an inline script that draws the layer sizes as an SVG
// bar chart and the final filesystem as an SVG treemap. The page loads
// nothing: no network, no external script or style. When the script has
// drawn, <body> carries data-drawn="true".
func writeHTMLReport(path, image string, rep *analyze.Report) error {
	var buf bytes.Buffer
	data := struct {
		Image  string
		Report *analyze.Report
	}{image, rep}
	if err := htmlReport.Execute(&buf, data); err != nil {
		return fmt.Errorf("rendering the HTML report: %w", err)
	}
	return writePage(path, buf.Bytes())
}

// writePage writes page to path atomically, readable by all.
func writePage(path string, page []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".analyze-*.html")
	if err != nil {
		return fmt.Errorf("writing --html: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(page); err != nil {
		tmp.Close()
		return fmt.Errorf("writing --html: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing --html: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing --html: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing --html: %w", err)
	}
	return nil
}

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"size":  humanSize,
	"dash":  sizeOrDash,
	"pct":   func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"place": findingPlace,
}).Parse(htmlReportSource))

const htmlReportSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>strata analyze {{.Image}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: right; }
td.ins, th.ins, td.path { text-align: left; font-family: monospace; }
tr:nth-child(even) { background: #f4f4f4; }
.wasted { color: #b00; }
#layer-chart, #treemap { border: 1px solid #ccc; display: block; }
#treemap text, #layer-chart text { font: 11px sans-serif; pointer-events: none; }
.findings li { margin-bottom: .6em; } .fix { color: #060; }
.legend { margin: .4em 0 1em; font-size: 12px; } .legend span.item { margin-right: 1.2em; white-space: nowrap; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; border: 1px solid #999; }
</style>
</head>
<body>
<h1>strata analyze {{.Image}}</h1>
{{with .Report}}
<p>Size <b>{{size .Size}}</b> in {{.Layers}} layers{{if .CompressedSize}} ({{size .CompressedSize}} compressed){{end}};
wasted <b{{if .Wasted}} class="wasted"{{end}}>{{size .Wasted}}</b>, efficiency <b>{{pct .Efficiency}}</b>.</p>

<h2>Layers</h2>
<svg id="layer-chart" width="900" height="260" role="img" aria-label="layer sizes"></svg>
<div class="legend" id="layer-legend"><span class="item"><i style="background:#4e79a7"></i>layer size (uncompressed tar)</span><span class="item"><i style="background:#e15759"></i>bytes of the layer that later layers delete or overwrite (wasted)</span></div>
<table>
<tr><th>layer</th>{{if .Dockerfile}}<th>line</th>{{end}}<th class="ins">created by</th><th>size</th><th>image size</th><th>compressed</th><th>added</th><th>changed</th><th>removed</th><th>wasted</th></tr>
{{range .Rows}}<tr><td>{{if ge .Layer 0}}{{.Layer}}{{else}}-{{end}}</td>{{if $.Report.Dockerfile}}<td>{{if .Line}}{{.Line}}{{else}}-{{end}}</td>{{end}}<td class="ins">{{.Instruction}}</td><td>{{size .Size}}</td><td>{{size .ImageSize}}</td>{{if ge .Layer 0}}<td>{{dash .CompressedSize}}</td><td>{{.Added}}</td><td>{{.Changed}}</td><td>{{.Removed}}</td><td{{if .Wasted}} class="wasted"{{end}}>{{size .Wasted}}</td>{{else}}<td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>{{end}}</tr>
{{end}}</table>

<h2>Findings</h2>
<ul class="findings">
{{range .Findings}}<li>[{{place $.Report .}}] {{.Message}}. <span class="fix">Fix: {{.Fix}}.</span></li>
{{else}}<li>none</li>{{end}}
</ul>

<h2>Final filesystem</h2>
<svg id="treemap" width="900" height="560" role="img" aria-label="treemap of the final filesystem"></svg>
<div class="legend" id="treemap-legend"></div>
<h2>Wasted: what later layers hid</h2>
<p>The files a layer holds that a later layer deletes or overwrites: {{size .Wasted}}, pulled with the image and never seen.</p>
<svg id="wasted-treemap" width="900" height="360" role="img" aria-label="treemap of the wasted files"></svg>
<div class="legend" id="wasted-legend"></div>
<h2>Packages</h2>
<p>{{len .Packages}} packages hold {{size .PackageBytes}} of the final {{size .FinalBytes}}; {{size .UnownedBytes}} belong to no package.</p>
<svg id="pkg-treemap" width="900" height="420" role="img" aria-label="treemap of the packages"></svg>
<div class="legend" id="pkg-legend"></div>
<table>
<tr><th>size</th><th class="ins">package</th><th class="ins">version</th><th class="ins">manager</th><th>layer</th>{{if .Dockerfile}}<th>line</th>{{end}}</tr>
{{range $i, $p := .Packages}}{{if lt $i 30}}<tr><td>{{size .Bytes}}</td><td class="ins">{{.Name}}</td><td class="ins">{{.Version}}</td><td class="ins">{{.Manager}}</td><td>{{if ge .Layer 0}}{{.Layer}}{{else}}-{{end}}</td>{{if $.Report.Dockerfile}}<td>{{if .Line}}{{.Line}}{{else}}-{{end}}</td>{{end}}</tr>
{{end}}{{end}}</table>
{{range .PackageNotes}}<p>note: {{.}}</p>{{end}}
<h2>Largest files</h2>
<table>{{range .LargestFiles}}<tr><td>{{size .Size}}</td><td>layer {{.Layer}}</td><td class="path">{{.Path}}</td></tr>{{end}}</table>
<h2>Largest directories</h2>
<table>{{range .LargestDirs}}<tr><td>{{size .Size}}</td><td>layer {{.Layer}}</td><td class="path">{{.Path}}</td></tr>{{end}}</table>
{{end}}
<script>
(function () {
  "use strict";
  const report = {{.Report}};
  const NS = "http://www.w3.org/2000/svg";
  function el(parent, name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  function human(n) {
    const u = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i ? n.toPrecision(3) : String(n)) + u[i];
  }
  const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#e15759"];

  function drawBars() {
    const svg = document.getElementById("layer-chart");
    const rows = report.rows.filter(r => r.layer >= 0);
    const W = +svg.getAttribute("width"), H = +svg.getAttribute("height");
    const left = 60, bottom = 24, top = 10;
    const max = Math.max(1, ...rows.map(r => r.size));
    const bw = (W - left - 10) / Math.max(1, rows.length);
    el(svg, "line", {x1: left, y1: H - bottom, x2: W - 10, y2: H - bottom, stroke: "#888"});
    el(svg, "text", {x: 4, y: top + 10}, human(max));
    rows.forEach((r, i) => {
      const h = (H - bottom - top) * r.size / max;
      const x = left + i * bw + bw * 0.1, w = bw * 0.8, y = H - bottom - h;
      const bar = el(svg, "rect", {x: x, y: y, width: w, height: h, fill: "#4e79a7", "class": "bar", "data-layer": r.layer});
      el(bar, "title", {}, "layer " + r.layer + ": " + human(r.size) + "\n" + r.instruction);
      if (r.wasted > 0) {
        const wh = (H - bottom - top) * r.wasted / max;
        const wr = el(svg, "rect", {x: x, y: H - bottom - wh, width: w, height: wh, fill: "#e15759", "class": "bar-wasted"});
        el(wr, "title", {}, "layer " + r.layer + ": " + human(r.wasted) + " wasted");
      }
      el(svg, "text", {x: x + w / 2, y: H - 8, "text-anchor": "middle"}, String(r.layer));
    });
    return rows.length;
  }

  // Squarified treemap (Bruls, Huizing, van Wijk).
  function worst(row, side) {
    let s = 0, mx = 0, mn = Infinity;
    for (const c of row) { s += c.area; mx = Math.max(mx, c.area); mn = Math.min(mn, c.area); }
    return Math.max(side * side * mx / (s * s), (s * s) / (side * side * mn));
  }
  function place(row, r, out) {
    let s = 0;
    for (const c of row) s += c.area;
    if (r.w >= r.h) {
      const cw = s / r.h; let y = r.y;
      for (const c of row) { const h = c.area / cw; out.push({node: c.node, x: r.x, y: y, w: cw, h: h}); y += h; }
      return {x: r.x + cw, y: r.y, w: r.w - cw, h: r.h};
    }
    const rh = s / r.w; let x = r.x;
    for (const c of row) { const w = c.area / rh; out.push({node: c.node, x: x, y: r.y, w: w, h: rh}); x += w; }
    return {x: r.x, y: r.y + rh, w: r.w, h: r.h - rh};
  }
  function squarify(items, r) {
    const out = [];
    let row = [], i = 0;
    while (i < items.length) {
      const side = Math.min(r.w, r.h);
      if (side <= 0) break;
      if (row.length === 0 || worst(row.concat([items[i]]), side) <= worst(row, side)) { row.push(items[i]); i++; }
      else { r = place(row, r, out); row = []; }
    }
    if (row.length) place(row, r, out);
    return out;
  }
  let cells = 0;
  function drawNode(svg, node, path, r, depth, color) {
    const cell = el(svg, "rect", {x: r.x, y: r.y, width: Math.max(0, r.w), height: Math.max(0, r.h),
      fill: color, "fill-opacity": 0.25 + 0.15 * Math.min(depth, 4), stroke: "#fff", "class": "cell", "data-path": path});
    el(cell, "title", {}, path + ": " + human(node.size));
    cells++;
    const label = r.w > 40 && r.h > 14;
    if (label) {
      let text = node.name + " " + human(node.size);
      const fit = Math.floor((r.w - 6) / 6.5);
      if (text.length > fit) text = fit > 1 ? text.slice(0, fit - 1) + "\u2026" : "";
      el(svg, "text", {x: r.x + 3, y: r.y + 11}, text);
    }
    const kids = (node.children || []).filter(c => c.size > 0);
    if (!kids.length || depth >= 6 || r.w < 12 || r.h < 20) return;
    const inner = {x: r.x + 2, y: r.y + (label ? 14 : 2), w: r.w - 4, h: r.h - (label ? 16 : 4)};
    if (inner.w <= 0 || inner.h <= 0) return;
    const total = node.size || 1, area = inner.w * inner.h;
    const items = kids.map(c => ({node: c, area: area * c.size / total}));
    squarify(items, inner).forEach((p, i) => {
      const childPath = (path === "/" ? "/" : path + "/") + p.node.name;
      drawNode(svg, p.node, childPath, p, depth + 1, depth === 0 ? palette[i % palette.length] : color);
    });
  }
  // legend names the colour of each top-level child of tree, in the
  // order drawNode gives them, and what the shades mean.
  function legend(id, tree, what) {
    const box = document.getElementById(id);
    const kids = (tree && tree.children || []).filter(c => c.size > 0);
    kids.forEach((c, i) => {
      const item = document.createElement("span");
      item.className = "item";
      const sw = document.createElement("i");
      sw.style.background = palette[i % palette.length];
      item.appendChild(sw);
      item.appendChild(document.createTextNode(c.name + " " + human(c.size)));
      box.appendChild(item);
    });
    const note = document.createElement("span");
    note.className = "item";
    note.textContent = kids.length ? "(one colour per " + what + "; darker = deeper; area = bytes)" : "(nothing)";
    box.appendChild(note);
    return kids.length;
  }
  function drawTree(id, tree) {
    const svg = document.getElementById(id);
    if (!tree || !tree.size) return 0;
    const W = +svg.getAttribute("width"), H = +svg.getAttribute("height");
    const before = cells;
    drawNode(svg, tree, "/", {x: 0, y: 0, w: W, h: H}, 0, "#888");
    return cells - before;
  }
  function drawTreemap() {
    legend("treemap-legend", report.tree, "top-level directory");
    return drawTree("treemap", report.tree);
  }

  function drawPackages() {
    const svg = document.getElementById("pkg-treemap");
    const pkgs = report.packages || [];
    const byManager = {};
    for (const p of pkgs) {
      if (!p.bytes) continue;
      const m = byManager[p.manager] || (byManager[p.manager] = {name: p.manager, size: 0, children: []});
      m.size += p.bytes;
      m.children.push({name: p.name, size: p.bytes});
    }
    const kids = Object.values(byManager);
    if (report.unownedBytes > 0) kids.push({name: "unowned", size: report.unownedBytes});
    kids.sort((a, b) => b.size - a.size);
    const root = {name: "packages", size: kids.reduce((s, k) => s + k.size, 0), children: kids};
    legend("pkg-legend", root, "package manager (unowned: files no package owns)");
    return drawTree("pkg-treemap", root);
  }

  const bars = drawBars();
  const n = drawTreemap();
  document.body.setAttribute("data-pkg-cells", String(drawPackages()));
  legend("wasted-legend", report.wastedTree, "top-level directory");
  document.body.setAttribute("data-wasted-cells", String(drawTree("wasted-treemap", report.wastedTree)));
  document.body.setAttribute("data-bars", String(bars));
  document.body.setAttribute("data-cells", String(n));
  document.body.setAttribute("data-drawn", "true");
})();
</script>
</body>
</html>
`
