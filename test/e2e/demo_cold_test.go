package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestDemoColdPath runs the README's first command's script as a fresh
// machine would: an empty tarball cache (no debian tarball, no borrowed
// conformance cache) and an empty store. It caught mmdebstrap writing a
// directory for the temporary ".tmp" name, which a warm cache never ran.
func TestDemoColdPath(t *testing.T) {
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Fatal("mmdebstrap not found: run scripts/deps.sh (apt-get install mmdebstrap)")
	}
	_, self, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(self), "..", "..")
	cache, root := t.TempDir(), t.TempDir()
	cmd := exec.Command("bash", filepath.Join(repo, "scripts", "demo.sh"))
	cmd.Dir = repo
	cmd.Env = append(os.Environ(),
		"STRATA="+env.bin, "STRATA_CACHE="+cache, "STRATA_ROOT="+root, "STRATA_DEMO_COLD=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh on a cold cache: %v\n%s", err, out)
	}
	t.Logf("demo.sh cold: %s", time.Since(start).Round(time.Second))
	if fi, err := os.Stat(filepath.Join(cache, "debian-bookworm-minbase.tar")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the debian tarball is not a regular file in the cache: %v", err)
	}
	text := string(out)
	for _, want := range []string{"Hello, world!", "hello", "single", "multi", "debian"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
}
