package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The last RUN writes in /etc: where the image has no /etc/hosts, the
// namespaces isolation's mount point for it leaves /etc in the layer, which
// chroot isolation, mounting nothing, does not.
const unprivDockerfile = `FROM busybox AS a
RUN mkdir -p /data/sub && echo hi > /data/x && ln /data/x /data/y && rm /etc/group && chmod 600 /etc/passwd \
 && echo quiet > /dev/null && grep -q localhost /etc/hosts && rm -rf /tmp && mkdir /tmp && touch /tmp/new
WORKDIR /work
COPY file /work/
FROM busybox
COPY --from=a /data /data
RUN cat /data/x > /copied && test -c /dev/null && test -c /dev/urandom && echo x > /etc/note
`

// TestUnprivilegedBuildFallsBackToChroot builds without CAP_SYS_ADMIN,
// where the sandbox's namespaces and overlay mounts are refused: with user
// namespaces allowed, auto isolation makes them in a user namespace of
// strata's own and says so once; --isolation chroot (what auto picks where
// docker's seccomp profile refuses user namespaces too, as
// TestImageBuildsUnprivilegedAndPushes shows) makes the very image the
// namespaces and overlayfs make, with nothing of its own (/dev nodes,
// /etc/hosts) captured.
func TestUnprivilegedBuildFallsBackToChroot(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("this test needs setpriv (Debian package util-linux): %v", err)
	}
	ctxDir := writeContext(t, map[string]string{"Dockerfile": unprivDockerfile, "file": "content\n"})
	s := newStrata(t)
	build := func(prefix []string, args ...string) (id, stderr string) {
		t.Helper()
		iid := filepath.Join(t.TempDir(), "iid")
		argv := append(prefix, env.bin, "--root", s.root, "build", "--progress", "plain", "--no-cache", "--reproducible", "--iidfile", iid)
		argv = append(argv, args...)
		argv = append(argv, ctxDir)
		cmd := exec.Command(argv[0], argv[1:]...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		b, err := os.ReadFile(iid)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), string(out)
	}
	want, out := build(nil, "-t", "unpriv:ns")
	if strings.Contains(out, "isolation:") {
		t.Errorf("a build where namespaces work says %q", out)
	}
	noAdmin := []string{setpriv, "--bounding-set", "-sys_admin"}
	got, out := build(noAdmin, "-t", "unpriv:auto")
	// Root without CAP_SYS_ADMIN where user namespaces are allowed (no
	// seccomp profile refuses them, unlike docker's default one: see
	// TestImageBuildsUnprivilegedAndPushes) makes the namespaces in a user
	// namespace of its own.
	if n := strings.Count(out, "isolation: namespaces, in a user namespace of strata's own (without it: namespaces refused: operation not permitted); snapshotter: auto"); n != 1 {
		t.Errorf("the user namespace is said %d times, want once:\n%s", n, out)
	}
	if got != want {
		t.Errorf("image built without CAP_SYS_ADMIN: got %s, want the namespaces' %s", got, want)
	}
	// Chosen explicitly where namespaces work, chroot gives the same image.
	if got, _ := build(nil, "-t", "unpriv:chroot", "--isolation", "chroot"); got != want {
		t.Errorf("image with --isolation chroot: got %s, want %s", got, want)
	}
	// What chroot isolation cannot do is refused, saying what to do.
	for _, tt := range []struct{ name, dockerfile, want string }{
		{"mount", "FROM busybox\nRUN --mount=type=tmpfs,target=/t true\n", "Dockerfile:2: RUN: running the sandbox: executor: chroot isolation cannot mount /t (RUN --mount needs mount namespaces): use --isolation namespaces"},
		{"overlay", "FROM busybox\nRUN true\n", "--snapshotter overlay cannot be used with chroot isolation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeContext(t, map[string]string{"Dockerfile": tt.dockerfile})
			args := []string{"--root", s.root, "build", "--isolation", "chroot", dir}
			if tt.name == "overlay" {
				args = append(args, "--snapshotter", "overlay")
			}
			r := s.run(args[2:]...)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("got exit %d, stderr %q; want a failure saying %q", r.code, r.stderr, tt.want)
			}
		})
	}
}
