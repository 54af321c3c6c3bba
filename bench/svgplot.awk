#!/usr/bin/awk -f
# svgplot.awk - one SVG line chart of time against size, one line per tool,
# from lines "CASE TOOL SIZE SECONDS" (medians) on stdin; -v case=NAME picks
# the case, -v xlabel=... names the x axis. Axes start at 0 and are linear,
# so that a straight line is linear cost. No dependencies beyond awk.
#
#   awk -v case=files-noop -v xlabel="context files" -f bench/svgplot.awk medians.txt >files-noop.svg
$1 == case {
  t = $2; n = ++np[t]; x[t, n] = $3 + 0; y[t, n] = $4 + 0
  if (!(t in seen)) { seen[t] = 1; tools[++nt] = t }
  if ($3 + 0 > xmax) xmax = $3 + 0
  if ($4 + 0 > ymax) ymax = $4 + 0
}
END {
  W = 640; H = 400; L = 70; R = 150; T = 40; B = 60
  if (xmax == 0) xmax = 1
  if (ymax == 0) ymax = 1
  ymax *= 1.1
  split("#d62728 #1f77b4 #2ca02c #9467bd", color, " ")
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
  printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
  printf "<text x=\"%d\" y=\"22\" font-size=\"15\">%s: seconds against size</text>\n", L, case
  pw = W - L - R; ph = H - T - B
  printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T + ph, L + pw, T + ph
  printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, T + ph
  for (i = 0; i <= 4; i++) {
    gx = L + pw * i / 4; gy = T + ph - ph * i / 4
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", gx, T + ph + 18, xmax * i / 4
    printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", L - 6, gy + 4, ymax * i / 4
    printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, gy, L + pw, gy
  }
  printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", L + pw / 2, H - 15, xlabel
  printf "<text x=\"16\" y=\"%.1f\" transform=\"rotate(-90 16 %.1f)\" text-anchor=\"middle\">seconds (median)</text>\n", T + ph / 2, T + ph / 2
  for (k = 1; k <= nt; k++) {
    t = tools[k]; c = color[(k - 1) % 4 + 1]; pts = ""
    for (i = 1; i <= np[t]; i++) {
      px = L + pw * x[t, i] / xmax; py = T + ph - ph * y[t, i] / ymax
      pts = pts sprintf("%.1f,%.1f ", px, py)
      printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px, py, c
    }
    printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", pts, c
    printf "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", L + pw + 12, T + 16 * k, c, t
  }
  print "</svg>"
}
