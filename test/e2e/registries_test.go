package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRegistriesFile writes the registries file and points STRATA_CONFIG
// at it for the strata commands the test runs.
func writeRegistriesFile(t *testing.T, content string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registries.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STRATA_CONFIG", path)
}

// TestRegistriesFileMirror: with docker.io mirrored on a registry on
// 127.0.0.1 in the registries file, docker.io/library images come from the
// mirror (this machine cannot reach Docker Hub), for strata pull and for a
// build's FROM; without the mirror the pull fails.
func TestRegistriesFileMirror(t *testing.T) {
	mirror := startRegistry(t)
	pusher := newStrata(t)
	pusher.must("push", "-q", "busybox:latest", mirror+"/library/strata-mirrored:1")

	writeRegistriesFile(t, `{"registries": {"docker.io": {"mirrors": ["`+mirror+`"]}}}`)
	s := &strata{t: t, root: t.TempDir()}
	s.must("pull", "docker.io/library/strata-mirrored:1")
	if got := s.must("run", "--rm", "strata-mirrored:1", "echo", "from the mirror").stdout; got != "from the mirror\n" {
		t.Errorf("the mirrored image printed %q", got)
	}
	b := &strata{t: t, root: t.TempDir()}
	b.must("build", "-t", "m", bldContext(t, "FROM strata-mirrored:1\nRUN echo built > /b\n", nil))
	if got := bldFile(t, bldExport(t, b, "m"), "b"); got != "built\n" {
		t.Errorf("the build FROM the mirrored image wrote %q", got)
	}

	writeRegistriesFile(t, `{}`)
	r := (&strata{t: t, root: t.TempDir()}).run("pull", "docker.io/library/strata-mirrored:1")
	if r.code == 0 {
		t.Errorf("without the mirror the pull of docker.io/library/strata-mirrored:1 succeeded; want the registry's error")
	}
}

// loopbackName returns a name of this machine that resolves to a loopback
// address but is neither "localhost" nor an IP address, so that strata does
// not take it for a loopback registry that may use plain http.
func loopbackName(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := net.LookupHost(h)
	if err != nil {
		t.Fatalf("resolving the host name %q: %v (the test needs it in /etc/hosts)", h, err)
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && ip.Equal(net.IPv4(127, 0, 0, 1)) {
			return h
		}
	}
	t.Fatalf("the host name %q resolves to %v, not 127.0.0.1: the test needs it to (as /etc/hosts has by default)", h, addrs)
	return ""
}

// TestRegistriesFileInsecure: a registry named by a host name (not a
// loopback address) is reached over plain http only when the registries
// file says it is insecure: push, pull, and the registry cache of a build
// (--cache-to, then --cache-from on an empty store).
func TestRegistriesFileInsecure(t *testing.T) {
	addr := startRegistry(t)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	reg := loopbackName(t) + ":" + port
	s := newStrata(t)

	writeRegistriesFile(t, `{}`)
	r := s.run("push", "-q", "busybox:latest", reg+"/plain/busybox:1")
	if r.code == 0 || !strings.Contains(r.stderr, "HTTP response to HTTPS client") {
		t.Fatalf("push over plain http without the registries file saying so: exit %d, stderr %q; want https refused", r.code, r.stderr)
	}
	cache := "type=registry,ref=" + reg + "/plain/cache:1"
	r = s.run("build", "--cache-to", cache, bldContext(t, "FROM busybox\nRUN echo cached > /c\n", nil))
	if r.code == 0 {
		t.Fatalf("--cache-to an insecure registry the registries file does not name succeeded")
	}

	writeRegistriesFile(t, `{"registries": {"`+reg+`": {"insecure": true}}}`)
	s.must("push", "-q", "busybox:latest", reg+"/plain/busybox:1")
	p := &strata{t: t, root: t.TempDir()}
	p.must("pull", reg+"/plain/busybox:1")

	ctx := bldContext(t, "FROM "+reg+"/plain/busybox:1\nRUN echo cached > /c\n", nil)
	iid := filepath.Join(t.TempDir(), "iid")
	s.must("build", "--iidfile", iid, "--cache-to", cache, ctx)
	id1 := readTrim(t, iid)
	fresh := &strata{t: t, root: t.TempDir()} // an empty store: the base comes from the registry too
	r = fresh.must("build", "--progress=plain", "--iidfile", iid, "--cache-from", cache, ctx)
	if got := bldStatus(t, r.stderr, "RUN echo cached"); got != "CACHED" {
		t.Errorf("RUN after --cache-from the insecure registry: %s, want CACHED\n%s", got, r.stderr)
	}
	if id2 := readTrim(t, iid); id2 != id1 {
		t.Errorf("image %s from the imported cache, want %s", id2, id1)
	}
}

// TestRegistriesFileCA: a TLS registry whose certificate is signed by a CA
// the test made is refused until the registries file names the CA file;
// then strata login, push and pull reach it.
func TestRegistriesFileCA(t *testing.T) {
	reg := startTLSRegistry(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("SSL_CERT_DIR", t.TempDir()) // no CA from the environment
	t.Setenv("SSL_CERT_FILE", filepath.Join(t.TempDir(), "none.pem"))
	s := newStrata(t)

	writeRegistriesFile(t, `{}`)
	r := s.runIn([]byte(reg.pass), "login", "-u", reg.user, "--password-stdin", reg.addr)
	if r.code == 0 || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("login to a registry of an unknown CA: exit %d, stderr %q; want the certificate refused", r.code, r.stderr)
	}

	writeRegistriesFile(t, `{"registries": {"`+reg.addr+`": {"ca": ["`+reg.caFile+`"]}}}`)
	if r := s.runIn([]byte(reg.pass), "login", "-u", reg.user, "--password-stdin", reg.addr); r.code != 0 {
		t.Fatalf("login with the CA in the registries file: exit %d\n%s", r.code, r.stderr)
	}
	s.must("push", "-q", "busybox:latest", reg.addr+"/ca/busybox:1")
	p := &strata{t: t, root: t.TempDir()}
	p.must("pull", reg.addr+"/ca/busybox:1")
}
