package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildNamedContexts: --build-context NAME=DIR, NAME=docker-image://REF
// and NAME=GIT-URL are what FROM NAME, COPY --from=NAME and RUN --mount
// from=NAME use before a registry (image names normalized as BuildKit:
// busybox:latest is busybox), and a stage of that name is replaced by the
// context, its instructions not run.
func TestBuildNamedContexts(t *testing.T) {
	url, _, _ := agitServe(t)
	s := newStrata(t)
	alt := bldContext(t, "FROM busybox\nRUN echo alt > /marker\n", nil)
	s.must("build", "-t", "alt:1", alt)
	dir := writeContext(t, map[string]string{"f.txt": "from the dir\n", "sub/g.txt": "g\n", "skip.txt": "ignored\n", ".dockerignore": "skip.txt\n"})
	df := "FROM busybox AS builder\nRUN exit 3\n" +
		"FROM src AS files\n" +
		"FROM busybox:latest\n" +
		"COPY --from=src f.txt /f\n" +
		"COPY --from=files /sub /sub\n" +
		"COPY --from=builder /marker /from-builder\n" +
		"COPY --from=repo README /readme\n" +
		"RUN --mount=from=src,target=/mnt cat /mnt/f.txt > /mounted; test ! -e /mnt/skip.txt && echo yes > /ignored\n"
	ctx := bldContext(t, df, nil)
	args := []string{"build", "--progress=plain", "-t", "named", "--build-context", "src=" + dir,
		"--build-context", "docker.io/library/busybox=docker-image://alt:1",
		"--build-context", "builder=docker-image://alt:1", "--build-context", "repo=" + url + "#v1", ctx}
	r := s.must(append([]string{"build", "--build-context", "spare=" + dir}, args[1:]...)...)
	if !strings.Contains(r.stderr, "the build context spare is not used") || strings.Contains(r.stderr, "the build context src is not used") {
		t.Errorf("want a warning for the unused context spare only:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "exit 3") {
		t.Errorf("the replaced stage's RUN ran:\n%s", r.stderr)
	}
	e := bldExport(t, s, "named")
	for name, want := range map[string]string{
		"marker":       "alt\n", // FROM busybox:latest is the busybox context
		"f":            "from the dir\n",
		"sub/g.txt":    "g\n",
		"from-builder": "alt\n",
		"readme":       "v1\n",
		"mounted":      "from the dir\n",
		"ignored":      "yes\n",
	} {
		if got := bldFile(t, e, name); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}

	// The directory's content is part of the keys: a change copies again.
	r = s.must(args...)
	if st := bldStatus(t, r.stderr, "COPY --from=src f.txt"); st != "CACHED" {
		t.Errorf("COPY --from=src unchanged: %s, want CACHED", st)
	}
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = s.must(args...)
	if st := bldStatus(t, r.stderr, "COPY --from=src f.txt"); st != "DONE" {
		t.Errorf("COPY --from=src after the dir changed: %s, want DONE", st)
	}
	if got := bldFile(t, bldExport(t, s, "named"), "f"); got != "changed\n" {
		t.Errorf("/f after the change = %q", got)
	}
}

// TestBuildNamedContextsRefused: what strata cannot read as a named
// context is refused before the build, saying what to use instead.
func TestBuildNamedContextsRefused(t *testing.T) {
	s := newStrata(t)
	ctx := bldContext(t, "FROM busybox\nCOPY --from=x / /x\n", nil)
	tests := []struct {
		value, want string
	}{
		{"x", "want NAME=VALUE"},
		{"X Y=" + ctx, "invalid context name"},
		{"x=oci-layout:///tmp/layout", "oci-layout:// contexts are not supported"},
		{"x=target:app", "buildx bake"},
		{"x=https://example.invalid/ctx.tar.gz", "only a directory, docker-image://REF or a git repository URL"},
		{"x=/no/such/dir", "is not a directory"},
		{"x=docker-image://UPPER", "--build-context x=docker-image://UPPER"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			r := s.run("build", "--build-context", tt.value, ctx)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("--build-context %s: exit %d, stderr %q; want a failure saying %q", tt.value, r.code, r.stderr, tt.want)
			}
		})
	}
}
