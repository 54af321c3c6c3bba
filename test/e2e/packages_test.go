package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-build/strata/test/testenv"
)

// debianTar returns the Debian bookworm minbase root filesystem
// ($STRATA_DEBIAN_TAR, else the cache the conformance suite shares, made
// with mmdebstrap on a fresh machine).
func debianTar(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STRATA_DEBIAN_TAR"); p != "" {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("STRATA_DEBIAN_TAR=%s is no Debian bookworm root filesystem tarball: %v", p, err)
		}
		return p
	}
	p, err := testenv.DebianTar(context.Background(), testenv.DebianCache)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// packageReport is the part of analyze --json the package tests read.
type packageReport struct {
	Size         int64 `json:"size"`
	FinalBytes   int64 `json:"finalBytes"`
	FileBytes    int64 `json:"fileBytes"`
	PackageBytes int64 `json:"packageBytes"`
	UnownedBytes int64 `json:"unownedBytes"`
	Rows         []struct {
		Layer        int   `json:"layer"`
		Line         int   `json:"line"`
		Size         int64 `json:"size"`
		PackageBytes int64 `json:"packageBytes"`
		UnownedBytes int64 `json:"unownedBytes"`
	} `json:"rows"`
	Packages []struct {
		Name       string   `json:"name"`
		Version    string   `json:"version"`
		Manager    string   `json:"manager"`
		Bytes      int64    `json:"bytes"`
		Layer      int      `json:"layer"`
		Line       int      `json:"line"`
		Auto       bool     `json:"auto"`
		RequiredBy []string `json:"requiredBy"`
	} `json:"packages"`
	Unowned []struct {
		Path string `json:"path"`
		Size int64  `json:"size"`
	} `json:"unowned"`
}

func analyzePackages(t *testing.T, s *strata, args ...string) packageReport {
	t.Helper()
	out := s.must(append([]string{"analyze", "--no-compressed", "--json"}, args...)...).stdout
	var rep packageReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("analyze --json: %v\n%s", err, out)
	}
	return rep
}

// checkReconciles checks that package and unowned bytes make up the final
// filesystem, and per layer stay within the layer's tar.
func checkReconciles(t *testing.T, rep packageReport) {
	t.Helper()
	if got := rep.PackageBytes + rep.UnownedBytes; got != rep.FinalBytes {
		t.Errorf("package %d + unowned %d = %d bytes, want the final filesystem's %d", rep.PackageBytes, rep.UnownedBytes, got, rep.FinalBytes)
	}
	var files int64
	for _, r := range rep.Rows {
		if r.PackageBytes+r.UnownedBytes > r.Size {
			t.Errorf("layer %d: package %d + unowned %d bytes exceed the layer's %d", r.Layer, r.PackageBytes, r.UnownedBytes, r.Size)
		}
		files += r.PackageBytes + r.UnownedBytes
	}
	if files != rep.FileBytes {
		t.Errorf("layers' package + unowned bytes = %d, want the file bytes of all layers %d", files, rep.FileBytes)
	}
}

// TestAnalyzePackagesDebian installs a package with apt-get on Debian
// bookworm and checks analyze's package view against dpkg's own figures.
func TestAnalyzePackagesDebian(t *testing.T) {
	s := newStrata(t)
	s.must("import", debianTar(t), "debian:bookworm")
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM debian:bookworm\n" +
		"ENV DEBIAN_FRONTEND=noninteractive\n" +
		"RUN apt-get update && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/*\n"})
	s.must("build", "-t", "jq:pkg", dir)
	rep := analyzePackages(t, s, "--dockerfile", filepath.Join(dir, "Dockerfile"), "jq:pkg")
	checkReconciles(t, rep)
	byName := map[string]int{}
	for i, p := range rep.Packages {
		byName[p.Name] = i
	}
	for _, name := range []string{"jq", "libjq1", "libonig5", "libc6", "bash"} {
		if _, ok := byName[name]; !ok {
			t.Fatalf("analyze lists no package %s; packages: %+v", name, rep.Packages)
		}
	}
	jq, libjq, libc := rep.Packages[byName["jq"]], rep.Packages[byName["libjq1"]], rep.Packages[byName["libc6"]]
	if jq.Manager != "dpkg" || jq.Layer != 1 || jq.Line != 3 || jq.Auto {
		t.Errorf("jq = %+v, want dpkg, layer 1, line 3, not auto", jq)
	}
	if libjq.Layer != 1 || !libjq.Auto || !contains(libjq.RequiredBy, "jq") {
		t.Errorf("libjq1 = %+v, want layer 1, auto, required by jq", libjq)
	}
	if libc.Layer != 0 || libc.Line != 0 {
		t.Errorf("libc6 = %+v, want layer 0 (the base image) without a line", libc)
	}
	// dpkg's Installed-Size (KiB, from the .deb's control file) is the
	// package's own figure: analyze's bytes must agree with it.
	out := s.must("run", "jq:pkg", "dpkg-query", "-W", "-f", "${Package} ${Installed-Size} ${Version}\n", "jq", "libjq1", "libc6", "coreutils").stdout
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("dpkg-query line %q", line)
		}
		kib, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("dpkg-query line %q: %v", line, err)
		}
		p := rep.Packages[byName[f[0]]]
		if p.Version != f[2] {
			t.Errorf("%s: version %q, want dpkg's %q", f[0], p.Version, f[2])
		}
		// Installed-Size counts 1 KiB per file at least and rounds up.
		lo, hi := kib*1024*85/100-8192, kib*1024+8192
		if p.Bytes < lo || p.Bytes > hi {
			t.Errorf("%s: %d bytes, dpkg says %d KiB: want between %d and %d", f[0], p.Bytes, kib, lo, hi)
		}
	}
	// CI gates from a file and flags: one line per broken gate, exit 1.
	cfg := filepath.Join(t.TempDir(), ".strata-ci.yaml")
	if err := os.WriteFile(cfg, []byte("max-layers: 1\ndeny-packages: ['libjq*']\nmax-size: 1GB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := s.run("analyze", "--no-compressed", "--dockerfile", filepath.Join(dir, "Dockerfile"), "--ci-config", cfg, "--deny-package", "jq", "jq:pkg")
	wantLines := []string{
		"analyze: FAIL: 2 layers exceed --max-layers 1",
		"analyze: FAIL: package jq " + jq.Version + " (dpkg, ",
		"analyze: FAIL: package libjq1 " + libjq.Version + " (dpkg, ",
	}
	if r.code != 1 {
		t.Errorf("analyze with CI gates: exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, w := range wantLines {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("analyze's CI lines lack %q:\n%s", w, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "max-size") {
		t.Errorf("the image is under max-size 1GB, yet:\n%s", r.stderr)
	}
	for _, u := range rep.Unowned {
		if u.Path == "/usr/bin" && u.Size > 100_000 {
			t.Errorf("%d unowned bytes in /usr/bin: the usrmerge links are not resolved", u.Size)
		}
	}
	packagePages(t, s, filepath.Join(dir, "Dockerfile"))
}

// packagePages checks that Chromium draws jq:pkg's packages on the analyze
// page and its added packages on the diff page from debian:bookworm.
// STRATA_SCREENSHOTS=DIR keeps screenshots of both.
func packagePages(t *testing.T, s *strata, dockerfile string) {
	t.Helper()
	shots := os.Getenv("STRATA_SCREENSHOTS")
	shot := func(name string) string {
		if shots == "" {
			return ""
		}
		return filepath.Join(shots, name)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	s.must("analyze", "--no-compressed", "--dockerfile", dockerfile, "--html", page, "jq:pkg")
	dom := chromiumDOM(t, page, shot("analyze-packages.png"))
	for _, want := range []string{`data-drawn="true"`, `id="pkg-treemap"`, "libjq1", "libonig5"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the analyze page Chromium drew lacks %s", want)
		}
	}
	diffPage := filepath.Join(t.TempDir(), "diff.html")
	s.must("diff", "--html", diffPage, "debian:bookworm", "jq:pkg")
	dom = chromiumDOM(t, diffPage, shot("diff-packages.png"))
	for _, want := range []string{`data-drawn="true"`, "Package byte changes", "libjq1", "libonig5"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the diff page Chromium drew lacks %s", want)
		}
	}
	if strings.Contains(dom, "no package changes") {
		t.Error("the diff page says no package changes, yet jq:pkg adds jq, libjq1 and libonig5")
	}
}

// TestAnalyzePackagesBusybox: an image without a package database has no
// packages, and all of its bytes are unowned.
func TestAnalyzePackagesBusybox(t *testing.T) {
	s := newStrata(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox:latest\nRUN head -c 300000 /dev/urandom > /blob\n"})
	s.must("build", "-t", "bb:pkg", dir)
	rep := analyzePackages(t, s, "bb:pkg")
	checkReconciles(t, rep)
	if len(rep.Packages) != 0 || rep.PackageBytes != 0 {
		t.Errorf("packages = %+v (%d bytes), want none", rep.Packages, rep.PackageBytes)
	}
	var root int64 = -1
	for _, u := range rep.Unowned {
		if u.Path == "/" {
			root = u.Size
		}
	}
	if root != 300000 {
		t.Errorf("unowned = %+v, want / with the 300000-byte blob", rep.Unowned)
	}
	text := s.must("analyze", "--no-compressed", "bb:pkg").stdout
	if !strings.Contains(text, "Packages: none found") {
		t.Errorf("analyze output does not say no package was found:\n%s", text)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
