package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// DebianCache is where the debian:bookworm root filesystem tarball the
// suites share is kept between runs.
const DebianCache = "/var/cache/strata-conformance"

// debianMu makes one caller of a process build a missing tarball while the
// others wait for it.
var debianMu sync.Mutex

// DebianTar returns the debian:bookworm minbase root filesystem tarball in
// cache, made with mmdebstrap when it is missing (a fresh machine). The
// tarball is written under a temporary name and renamed into place, so
// that an interrupted run leaves none half-written.
func DebianTar(ctx context.Context, cache string) (string, error) {
	debianMu.Lock()
	defer debianMu.Unlock()
	out := filepath.Join(cache, "debian-bookworm-minbase.tar")
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		return out, nil
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return "", fmt.Errorf("%s is missing and mmdebstrap is not installed: apt-get install mmdebstrap", out)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("making the cache directory: %w", err)
	}
	tmp := out + fmt.Sprintf(".tmp%d", os.Getpid())
	// --format=tar: mmdebstrap picks its format from the file name
	// otherwise, and ".tmpN" would make a directory.
	cmd := exec.CommandContext(ctx, "mmdebstrap", "--variant=minbase", "--format=tar", "bookworm", tmp)
	if b, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("mmdebstrap --variant=minbase bookworm: %w\n%s", err, LastLines(string(b), 20))
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("keeping the debian tarball: %w", err)
	}
	return out, nil
}
