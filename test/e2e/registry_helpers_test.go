package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// dockerRegistryBin is Debian's docker-registry (the reference distribution
// server).
const dockerRegistryBin = "/usr/bin/docker-registry"

// startRegistry runs docker-registry on a free loopback port, storing into a
// fresh directory, and returns its host:port once GET /v2/ answers. The
// registry is killed when the test ends.
func startRegistry(t *testing.T) string {
	t.Helper()
	addr, _ := startRegistryDir(t)
	return addr
}

// startRegistryDir is startRegistry, also returning the directory the
// registry stores its blobs and manifests in.
func startRegistryDir(t *testing.T) (addr, data string) {
	t.Helper()
	if _, err := os.Stat(dockerRegistryBin); err != nil {
		t.Fatalf("%s is missing: run \"apt-get install docker-registry\" (%v)", dockerRegistryBin, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	serveRegistry(t, dir, conf, &http.Client{Timeout: time.Second}, "http://"+addr+"/v2/", http.StatusOK)
	return addr, filepath.Join(dir, "data")
}

// serveRegistry runs docker-registry with the configuration conf (written
// into dir, beside its log) until the test ends, and waits until url
// answers client with the status want.
func serveRegistry(t *testing.T, dir, conf string, client *http.Client, url string, want int) {
	t.Helper()
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dockerRegistryBin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", dockerRegistryBin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			err = fmt.Errorf("GET %s: %s, want %d", url, resp.Status, want)
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("docker-registry did not answer on %s within 10s: %v\n%s", url, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
