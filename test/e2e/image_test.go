package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helloMulti is a multi-stage hello on busybox: the first stage makes the
// program, the second ships only it.
const helloMulti = `FROM busybox AS compiler
RUN printf '#!/bin/sh\necho "Hello, world!"\n' > /hello && chmod 755 /hello
FROM busybox
COPY --from=compiler /hello /hello
CMD ["/hello"]
`

// buildStrataImage builds strata's image from the repository's Dockerfile
// with the test's store, taking a static strata compiled here
// (STRATA_FROM=prebuilt), and returns its docker archive.
func buildStrataImage(t *testing.T, s *strata) string {
	t.Helper()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctx, "strata"), "./cmd/strata")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a static strata: %v\n%s", err, out)
	}
	for _, f := range []struct{ src, dst string }{
		{filepath.Join(repo, "Dockerfile"), "Dockerfile"},
		{"/etc/ssl/certs/ca-certificates.crt", "ca-certificates.crt"},
	} {
		b, err := os.ReadFile(f.src)
		if err != nil {
			t.Fatalf("the strata image needs %s: %v", f.src, err)
		}
		if err := os.WriteFile(filepath.Join(ctx, f.dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.must("import", env.busyboxTar, "strata-base/busybox:local")
	s.must("build", "-q", "-t", "strata:e2e", "--build-arg", "STRATA_FROM=prebuilt", ctx)
	tar := filepath.Join(t.TempDir(), "strata-image.tar")
	s.must("save", "-o", tar, "strata:e2e")
	return tar
}

// dockerAuthConfig writes a docker config.json with the registry's
// credentials (base64 auths, as docker login writes them) into a fresh
// directory and returns it.
func dockerAuthConfig(t *testing.T, r *tlsRegistry) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(r.user + ":" + r.pass))
	conf := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, r.addr, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestImageBuildsUnprivilegedAndPushes is kaniko's use: strata's image run
// by docker with its defaults (no --privileged, no --security-opt, no
// --cap-add) builds a multi-stage image from a mounted context, choosing
// chroot isolation and the native snapshotter on its own, and pushes it
// over TLS (a CA of the test's) with a password from a docker
// config.json; docker pulls it and it prints "Hello, world!".
func TestImageBuildsUnprivilegedAndPushes(t *testing.T) {
	s := newStrata(t)
	image := buildStrataImage(t, s)
	reg := startTLSRegistry(t)
	d := startDockerd(t)
	d.must("load", "-i", image)

	ctxDir := writeContext(t, map[string]string{"Dockerfile": helloMulti})
	ref := reg.addr + "/hello:multi"
	// --network host: the private dockerd has no bridge, and the registry
	// listens on the machine's loopback; it is no privilege.
	run := []string{"run", "--rm", "--network", "host",
		"-v", ctxDir + ":/workspace:ro",
		"-v", env.busyboxTar + ":/bases/busybox.tar:ro",
		"-v", dockerAuthConfig(t, reg) + ":/root/.docker:ro",
		"-v", reg.caFile + ":/certs/test-ca.crt:ro", "-e", "SSL_CERT_DIR=/certs",
		"--entrypoint", "sh", "strata:e2e", "-c",
		"strata import /bases/busybox.tar busybox:latest >/dev/null && " +
			"strata build --progress plain -t hello:multi /workspace && " +
			"strata push hello:multi " + ref}
	start := time.Now()
	out, errs, err := d.exec(nil, run...)
	if err != nil {
		t.Fatalf("docker %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(run, " "), err, out, errs)
	}
	t.Logf("unprivileged build and push in docker: %s", time.Since(start).Round(100*time.Millisecond))
	if want := "isolation: chroot (namespaces refused: operation not permitted); snapshotter: native"; strings.Count(errs, want) != 1 {
		t.Errorf("the container's build does not say once %q:\n%s", want, errs)
	}

	// docker pulls it over TLS it verifies (certs.d) with the password.
	certsDir := filepath.Join("/etc/docker/certs.d", reg.addr)
	if err := os.MkdirAll(certsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(certsDir) })
	ca, err := os.ReadFile(reg.caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certsDir, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, err := d.exec([]byte(reg.pass), "login", "-u", reg.user, "--password-stdin", reg.addr); err != nil {
		t.Fatalf("docker login: %v\n%s", err, errs)
	}
	d.must("pull", ref)
	if got := d.must("run", "--rm", "--network", "none", ref); got != "Hello, world!\n" {
		t.Errorf("the pushed image prints %q, want \"Hello, world!\\n\"", got)
	}
}
