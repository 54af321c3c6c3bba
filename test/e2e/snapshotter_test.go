package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const snapDockerfile = `FROM busybox AS a
RUN mkdir -p /data/sub && echo hi > /data/x && ln /data/x /data/y && rm /etc/group && chmod 600 /etc/passwd \
 && setfattr -n user.k -v v /data/x 2>/dev/null; rm -rf /tmp && mkdir /tmp && touch /tmp/new
WORKDIR /work
COPY file /work/
FROM busybox
COPY --from=a /data /data
RUN --mount=type=bind,from=a,target=/m cat /m/data/x > /copied && ls /m/work > /listed
RUN --mount=type=bind,from=a,target=/m,rw touch /m/scratch && rm /home/app -r
`

// TestSnapshotterNativeBuildsTheSameImage builds one Dockerfile (whiteouts,
// an opaque directory, hard links, COPY --from, bind mounts from a stage)
// with each snapshotter, chosen by flag and by STRATA_SNAPSHOTTER, and wants
// the very same reproducible image; strata run works on both.
func TestSnapshotterNativeBuildsTheSameImage(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"Dockerfile": snapDockerfile, "file": "content\n"})
	s := newStrata(t)
	build := func(vars []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(env.bin, append([]string{"--root", s.root, "build", "-q", "--no-cache", "--reproducible"}, append(args, ctxDir)...)...)
		cmd.Env = append(os.Environ(), vars...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build %v %v: %v\n%s", vars, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	want := build(nil, "-t", "snap:overlay", "--snapshotter", "overlay")
	for _, tt := range []struct {
		name string
		env  []string
		args []string
	}{
		{"flag", nil, []string{"-t", "snap:native", "--snapshotter", "native"}},
		{"env", []string{"STRATA_SNAPSHOTTER=native"}, []string{"-t", "snap:env"}},
		{"auto", nil, []string{"-t", "snap:auto", "--snapshotter", "auto"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := build(tt.env, tt.args...); got != want {
				t.Errorf("image with %s: got %s, want overlay's %s", tt.name, got, want)
			}
		})
	}
	for _, sn := range []string{"overlay", "native"} {
		got := s.must("run", "--rm", "--snapshotter", sn, "snap:native", "sh", "-c", "cat /copied /listed; ls /data; test -e /home/app || echo no-app").stdout
		if want := "hi\nfile\nsub\nx\ny\nno-app\n"; got != want {
			t.Errorf("run --snapshotter %s: got %q, want %q", sn, got, want)
		}
	}
	if r := s.run("fsck"); r.code != 0 {
		t.Errorf("fsck: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := s.run("build", "--snapshotter", "copy", ctxDir)
	if r.code == 0 || !strings.Contains(r.stderr, `unknown snapshotter "copy": use overlay, native or auto`) {
		t.Errorf("--snapshotter copy: exit %d, stderr %q; want an error naming the choices", r.code, r.stderr)
	}
}

// TestCopyFromStoreWithCommaInPath copies from a stage of two layers out of
// a store whose path holds a comma, which overlay's mount(2) options cannot
// carry: the source view must be mounted another way (the copy op's own
// mount had no such check, unlike the sandbox's root mount).
func TestCopyFromStoreWithCommaInPath(t *testing.T) {
	s := &strata{t: t, root: t.TempDir() + "/store,comma"}
	s.must("import", env.busyboxTar, "busybox:latest")
	ctxDir := writeContext(t, map[string]string{"Dockerfile": `FROM busybox AS a
RUN echo one > /one
FROM busybox
COPY --from=a /one /bin/sh /out/
`})
	for _, sn := range []string{"overlay", "native"} {
		t.Run(sn, func(t *testing.T) {
			s := &strata{t: t, root: s.root}
			s.must("build", "-q", "--snapshotter", sn, "-t", "comma:"+sn, ctxDir)
			if got := s.must("run", "--rm", "comma:"+sn, "cat", "/out/one").stdout; got != "one\n" {
				t.Errorf("/out/one: got %q, want %q", got, "one\n")
			}
		})
	}
}
