package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// containerMounts are what a strata container of the tests gets.
type containerMounts struct {
	ctx string // the build context, on /workspace
	ca  string // the registry's CA, in SSL_CERT_DIR
	// config, if set, is a registries file, on /etc/strata/registries.json
	// named by STRATA_CONFIG.
	config string
	// opts are docker run options beyond the defaults, such as
	// --security-opt seccomp=unconfined.
	opts []string
}

// containerRun is what a strata container printed and wrote.
type containerRun struct {
	stdout, stderr string
	iid            string // /out/iid, if the script wrote it
}

// runStrataContainer runs script (sh -c) in a fresh container of
// strata:e2e, as docker runs one by default: no --privileged, no
// --security-opt, no --cap-add. --network host: the private dockerd has no
// bridge, and the registry listens on the machine's loopback.
func runStrataContainer(t *testing.T, d *dockerd, m containerMounts, script string) (containerRun, time.Duration) {
	t.Helper()
	out := t.TempDir()
	args := []string{"run", "--rm", "--network", "host",
		"-v", m.ctx + ":/workspace:ro",
		"-v", m.ca + ":/certs/test-ca.crt:ro", "-e", "SSL_CERT_DIR=/certs",
		"-v", out + ":/out"}
	if m.config != "" {
		args = append(args, "-v", m.config+":/etc/strata/registries.json:ro", "-e", "STRATA_CONFIG=/etc/strata/registries.json")
	}
	args = append(args, m.opts...)
	args = append(args, "--entrypoint", "sh", "strata:e2e", "-c", script)
	start := time.Now()
	stdout, stderr, err := d.execFor(10*time.Minute, nil, args...)
	took := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		t.Fatalf("docker %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	iid, _ := os.ReadFile(filepath.Join(out, "iid"))
	return containerRun{stdout: stdout, stderr: stderr, iid: string(iid)}, took
}

var (
	stepLine   = regexp.MustCompile(`(?m)^#(\d+) \[[^\]]*\] (RUN|COPY) `)
	cachedLine = regexp.MustCompile(`(?m)^#(\d+) CACHED$`)
)

// stepsCached counts the RUN and COPY steps of plain progress output, and
// those of them reported CACHED.
func stepsCached(out string) (steps, cached int) {
	isCached := map[string]bool{}
	for _, m := range cachedLine.FindAllStringSubmatch(out, -1) {
		isCached[m[1]] = true
	}
	for _, m := range stepLine.FindAllStringSubmatch(out, -1) {
		steps++
		if isCached[m[1]] {
			cached++
		}
	}
	return steps, cached
}

// choiceLines returns the lines of out that say which isolation and
// snapshotter a build chose.
func choiceLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "isolation:") || strings.Contains(l, "snapshotter") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// helloConfined needs what chroot isolation cannot give: RUN --mount
// (a tmpfs and a cache) and RUN --network=none (only the loopback in
// /proc/net/dev, where the host network has more).
const helloConfined = `FROM REG/busybox
RUN --mount=type=tmpfs,target=/scratch --mount=type=cache,target=/cache \
    echo hi > /scratch/f && grep -q ' /scratch tmpfs ' /proc/mounts && touch /cache/seen
RUN --network=none sh -c 'test "$(grep -c : /proc/net/dev)" = 1' && echo confined > /confined
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
	build := exec.Command("go", "build", "-o", filepath.Join(ctx, "strata"), "./cmd/strata")
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
// --cap-add) builds the repository's multi-stage example
// (examples/hello/Dockerfile.multi, FROM debian:bookworm through a mirror of
// docker.io in the registries file) from a mounted context, choosing
// chroot isolation and the native snapshotter on its own, exports its cache
// to the registry and pushes the image over TLS (a CA of the test's) with a
// password stored by strata login; a second fresh container with
// --cache-from gets every step CACHED and the same image; with seccomp
// unconfined (still no privilege) the same example builds in a user
// namespace of strata's own, on overlay when the store is on a volume, and
// RUN --mount and --network=none work there; docker pulls the images and
// they print "Hello, world!".
func TestImageBuildsUnprivilegedAndPushes(t *testing.T) {
	s := newStrata(t)
	image := buildStrataImage(t, s)
	reg := startTLSRegistry(t)
	d := startDockerd(t)
	d.must("load", "-i", image)

	// The bases, pushed with the credentials docker login writes: the
	// tutorial's debian:bookworm where a mirror of docker.io would have it,
	// busybox for the confined build below.
	s.must("import", debianTar(t), "debian:bookworm")
	for _, p := range [][2]string{
		{"debian:bookworm", reg.addr + "/library/debian:bookworm"},
		{"busybox:latest", reg.addr + "/busybox:latest"},
	} {
		push := exec.Command(env.bin, "--root", s.root, "push", p[0], p[1])
		push.Env = append(os.Environ(), "DOCKER_CONFIG="+dockerAuthConfig(t, reg), "SSL_CERT_DIR="+filepath.Dir(reg.caFile))
		if out, err := push.CombinedOutput(); err != nil {
			t.Fatalf("pushing the base image %s: %v\n%s", p[0], err, out)
		}
	}
	// The repository's multi-stage example as it is, FROM debian:bookworm
	// reached through the registries file's mirror of docker.io (a CI
	// runner's pull-through cache), its apt-get from Debian's mirror.
	hello, err := filepath.Abs(filepath.Join("..", "..", "examples", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	mirror := writeContext(t, map[string]string{"registries.json": fmt.Sprintf(`{"registries": {"docker.io": {"mirrors": [%q]}}}`, reg.addr)})
	ref, cache := reg.addr+"/hello:multi", reg.addr+"/hello:buildcache"
	login := fmt.Sprintf("echo %s | strata login -u %s --password-stdin %s && ", reg.pass, reg.user, reg.addr)
	build := "strata build --progress plain -f /workspace/Dockerfile.multi -t hello:multi --iidfile /out/iid "
	mounts := containerMounts{ctx: hello, ca: reg.caFile, config: filepath.Join(mirror, "registries.json")}
	first, took1 := runStrataContainer(t, d, mounts, login+
		build+"--cache-to type=registry,ref="+cache+",mode=max /workspace && "+
		"strata push hello:multi "+ref)
	t.Logf("the first runner said:\n%s", choiceLines(first.stderr))
	if want := "isolation: chroot (namespaces refused: operation not permitted; user namespace refused: operation not permitted); snapshotter: native"; strings.Count(first.stderr, want) != 1 {
		t.Errorf("the container's build does not say once %q:\n%s", want, first.stderr)
	}
	// A second, fresh runner: every step from the registry cache, the same
	// image.
	second, took2 := runStrataContainer(t, d, mounts, login+
		build+"--cache-from type=registry,ref="+cache+" /workspace")
	t.Logf("unprivileged build and push in docker: %s; a fresh runner with --cache-from: %s", took1, took2)

	// With a seccomp profile that allows user namespaces (still no
	// privilege), auto isolation makes the sandbox's namespaces in a user
	// namespace of strata's own: RUN --mount and network none work.
	confined := containerMounts{
		ctx:  writeContext(t, map[string]string{"Dockerfile": strings.ReplaceAll(helloConfined, "REG", reg.addr)}),
		ca:   reg.caFile,
		opts: []string{"--security-opt", "seccomp=unconfined"},
	}
	third, took3 := runStrataContainer(t, d, confined, login+
		"strata build --progress plain -t hello:confined --iidfile /out/iid /workspace && "+
		"strata push hello:confined "+reg.addr+"/hello:confined")
	t.Logf("seccomp=unconfined build and push in docker: %s; it said:\n%s", took3, choiceLines(third.stderr))
	if want := "isolation: namespaces, in a user namespace of strata's own (without it: namespaces refused: operation not permitted); snapshotter: auto"; strings.Count(third.stderr, want) != 1 {
		t.Errorf("the seccomp=unconfined container's build does not say once %q:\n%s", want, third.stderr)
	}
	if third.iid == "" {
		t.Errorf("the seccomp=unconfined container wrote no image id:\n%s", third.stderr)
	}
	// The same multi-stage example there, with the store on a volume (the
	// container's own overlay rootfs takes no overlay upper dir: native
	// above), is built in the user namespace on overlay.
	userns := mounts
	userns.opts = []string{"--security-opt", "seccomp=unconfined", "-v", t.TempDir() + ":/var/lib/strata"}
	fourth, took4 := runStrataContainer(t, d, userns, login+
		build+"/workspace && strata push hello:multi "+reg.addr+"/hello:userns")
	t.Logf("seccomp=unconfined, store on a volume: the multi-stage example built and pushed in %s; it said:\n%s", took4, choiceLines(fourth.stderr))
	if want := "isolation: namespaces, in a user namespace of strata's own (without it: namespaces refused: operation not permitted); snapshotter: auto"; strings.Count(fourth.stderr, want) != 1 ||
		strings.Contains(fourth.stderr, "overlayfs cannot be mounted") {
		t.Errorf("with the store on a volume, the seccomp=unconfined build does not say once %q, or does not use overlay:\n%s", want, fourth.stderr)
	}
	if got, want := second.iid, first.iid; got != want || got == "" {
		t.Errorf("image from the registry cache: got %q, want the first runner's %q", got, want)
	}
	if steps, cached := stepsCached(second.stderr); steps == 0 || cached != steps {
		t.Errorf("%d of %d RUN and COPY steps CACHED on the fresh runner, want all:\n%s", cached, steps, second.stderr)
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
	d.must("pull", reg.addr+"/hello:userns")
	if got := d.must("run", "--rm", "--network", "none", reg.addr+"/hello:userns"); got != "Hello, world!\n" {
		t.Errorf("the image built in the user namespace prints %q, want \"Hello, world!\\n\"", got)
	}
	d.must("pull", reg.addr+"/hello:confined")
	if got := d.must("run", "--rm", "--network", "none", reg.addr+"/hello:confined", "cat", "/confined"); got != "confined\n" {
		t.Errorf("the seccomp=unconfined container's image has /confined %q, want \"confined\\n\"", got)
	}
}
