package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

const dockerRegistry = "/usr/bin/docker-registry"

// startDockerRegistry runs Debian's docker-registry (the reference
// distribution server) on a free loopback port and returns its host:port.
func startDockerRegistry(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(dockerRegistry); err != nil {
		t.Fatalf("%s is missing: run \"apt-get install docker-registry\" (%v)", dockerRegistry, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dockerRegistry, "serve", cfg)
	out, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", dockerRegistry, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(out.Name())
			t.Fatalf("docker-registry did not answer on %s within 10s: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDockerRegistryEndToEnd(t *testing.T) {
	ctx := context.Background()
	host := startDockerRegistry(t)
	for _, mt := range []types.MediaType{types.OCIManifestSchema1, types.DockerManifestSchema2} {
		t.Run(string(mt), func(t *testing.T) {
			img := plainImage(t, 7, 3, mt)
			ref := fmt.Sprintf("%s/strata/e2e:%d", host, len(mt))
			opts := Options{TempDir: t.TempDir(), Keychain: testOptions().Keychain}
			dg, err := Push(ctx, img, ref, opts)
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			// A second push uploads nothing and gives the same digest.
			dg2, err := Push(ctx, img, ref, opts)
			if err != nil {
				t.Fatalf("second Push: %v", err)
			}
			if dg2 != dg {
				t.Errorf("second push digest = %s, want %s", dg2, dg)
			}
			got, gotRef, err := Pull(ctx, ref, opts)
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if gotRef.DigestStr() != dg.String() {
				t.Errorf("pulled %s, want digest %s", gotRef, dg)
			}
			if g, w := configName(t, got), configName(t, img); g != w {
				t.Errorf("image ID = %s, want %s", g, w)
			}
			if diff := cmp.Diff(diffIDs(t, got), diffIDs(t, img)); diff != "" {
				t.Errorf("diff_ids (-got +want):\n%s", diff)
			}
			if err := validate.Image(got); err != nil {
				t.Errorf("validate: %v", err)
			}
			// Pull by digest too.
			if _, _, err := Pull(ctx, gotRef.String(), opts); err != nil {
				t.Errorf("Pull by digest: %v", err)
			}
		})
	}
	if _, _, err := Pull(ctx, host+"/strata/e2e:missing", testOptions()); !errors.Is(err, ErrManifestUnknown) {
		t.Errorf("Pull of a missing tag: %v, want ErrManifestUnknown", err)
	}
}
