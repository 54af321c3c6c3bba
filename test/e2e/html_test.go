package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumDOM loads page in headless Chromium and returns the DOM after the
// page's script ran; with shot set, it also saves a screenshot there.
func chromiumDOM(t *testing.T, page, shot string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom (apt-get install chromium): %v", err)
	}
	if shot != "" {
		cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(),
			"--window-size=1000,2600", "--screenshot="+shot, "file://"+page)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chromium --screenshot: %v\n%s", err, out)
		}
	}
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<link", " src=", "url(", "@import", "https://"} {
		if strings.Contains(string(src), bad) {
			t.Errorf("%s holds %q: it must load nothing", filepath.Base(page), bad)
		}
	}
	return string(out)
}

// TestHTMLReportsDrawn: the single-image page draws the layer bars, the
// file, wasted and package treemaps with their legends, and the diff page
// draws its package bars, in Chromium. STRATA_SCREENSHOTS=DIR keeps
// screenshots of both.
func TestHTMLReportsDrawn(t *testing.T) {
	s := newStrata(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox:latest\nCOPY data /data\nRUN chmod -R 755 /data && rm /bin/busybox.suid 2>/dev/null; true\n",
		"data/a":     strings.Repeat("x", 300_000),
	})
	s.must("build", "-t", "html:1", dir)
	shots := os.Getenv("STRATA_SCREENSHOTS")
	shot := func(name string) string {
		if shots == "" {
			return ""
		}
		return filepath.Join(shots, name)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	s.must("analyze", "--no-compressed", "--html", page, "html:1")
	dom := chromiumDOM(t, page, shot("analyze.png"))
	for _, want := range []string{`data-drawn="true"`, `id="layer-legend"`, `id="wasted-treemap"`, `id="pkg-treemap"`,
		"layer size (uncompressed tar)", "top-level directory", `data-path="/data"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the analyze page Chromium drew lacks %s", want)
		}
	}
	if strings.Contains(dom, `data-wasted-cells="0"`) {
		t.Error("the wasted treemap is empty, yet the chmod copied /data/a up")
	}
	diffPage := filepath.Join(t.TempDir(), "diff.html")
	s.must("diff", "--html", diffPage, "busybox", "html:1")
	dom = chromiumDOM(t, diffPage, shot("diff.png"))
	for _, want := range []string{`data-drawn="true"`, "/data/a", "Package byte changes"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the diff page Chromium drew lacks %s", want)
		}
	}
}
