package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunMountBindContext: RUN --mount=type=bind without from= mounts the
// build context (after .dockerignore), not the directory strata runs in;
// source= picks a subdirectory or a file, a relative target is under
// WORKDIR, rw lets the RUN write (and the writes are thrown away), and the
// mounted files' content is part of the step's cache key. The mount points
// the RUN needed are removed afterwards when still empty, as BuildKit does
// since moby/buildkit#3307 ("executor: stubs cleaner should remove empty
// directory mounts") and #3314 (its parents too).
func TestRunMountBindContext(t *testing.T) {
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{
		"Dockerfile": `FROM busybox
WORKDIR /work
RUN --mount=type=bind,target=/ctx ls -A /ctx > /all
RUN --mount=type=bind,source=sub,target=sub cat sub/a.txt > /sub
RUN --mount=type=bind,source=sub/a.txt,target=/one/a.txt cat /one/a.txt > /file
RUN --mount=type=bind,source=.,target=/rw,rw echo changed > /rw/sub/a.txt && cat /rw/sub/a.txt > /rwseen
RUN --mount=type=bind,target=/ro sh -c 'echo x > /ro/new 2>/dev/null && echo writable || echo readonly' > /roseen
`,
		".dockerignore": "secret.txt\n",
		"secret.txt":    "do not show\n",
		"sub/a.txt":     "alpha\n",
	})
	// strata runs in another directory, with files of its own.
	cwd := t.TempDir()
	if err := os.WriteFile(filepath.Join(cwd, "cwd-only.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := func() result {
		t.Helper()
		r := s.runIn(nil, "build", "--progress=plain", "-t", "bind", ctx)
		if r.code != 0 {
			t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
		}
		return r
	}
	t.Chdir(cwd)
	build()
	tests := []struct{ file, want string }{
		{"/all", ".dockerignore\nDockerfile\nsub\n"},
		{"/sub", "alpha\n"},
		{"/file", "alpha\n"},
		{"/rwseen", "changed\n"},
		{"/roseen", "readonly\n"},
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.file, "/"), func(t *testing.T) {
			got := s.must("run", "--rm", "bind", "cat", tc.file).stdout
			if got != tc.want {
				t.Fatalf("%s = %q, want %q", tc.file, got, tc.want)
			}
		})
	}
	if got, err := os.ReadFile(filepath.Join(ctx, "sub", "a.txt")); err != nil || string(got) != "alpha\n" {
		t.Fatalf("the rw mount's write reached the context: %q, %v", got, err)
	}
	got := s.must("run", "--rm", "bind", "sh", "-c", "ls -d /ctx /rw /ro /one /work/sub 2>&1; true").stdout
	for _, stub := range []string{"/ctx", "/rw", "/ro", "/one", "/work/sub"} {
		if !strings.Contains(got, stub+": No such file") {
			t.Errorf("mount point %s left in the image:\n%s", stub, got)
		}
	}
	// A changed file under the mounted source must run the steps again.
	if err := os.WriteFile(filepath.Join(ctx, "sub", "a.txt"), []byte("beta\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build()
	if got := s.must("run", "--rm", "bind", "cat", "/sub", "/file").stdout; got != "beta\nbeta\n" {
		t.Fatalf("after editing sub/a.txt the RUNs saw %q: a stale cache hit", got)
	}
	// An ignored file is not part of the key.
	if err := os.WriteFile(filepath.Join(ctx, "secret.txt"), []byte("other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := build(); strings.Count(r.stderr, "CACHED") != 6 {
		t.Fatalf("editing an ignored file invalidated the cache:\n%s", r.stderr)
	}
}

// TestRunMountBindFromSource: RUN --mount=type=bind,from=<stage> mounts
// the source= subdirectory or file of that stage, read-only by default and
// writable (writes thrown away) with rw.
func TestRunMountBindFromSource(t *testing.T) {
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": `FROM busybox AS tools
RUN mkdir -p /opt/tools && echo tool-data > /opt/tools/tool.txt
FROM busybox
RUN --mount=type=bind,from=tools,source=/opt/tools,target=/t cat /t/tool.txt > /dir
RUN --mount=type=bind,from=tools,source=opt/tools/tool.txt,target=/f.txt cat /f.txt > /file
RUN --mount=type=bind,from=tools,source=/opt/tools,target=/t,rw echo mine > /t/tool.txt && cat /t/tool.txt > /rw
RUN --mount=type=bind,from=tools,source=/opt/tools,target=/t cat /t/tool.txt > /after
`})
	s.must("build", "-t", "bindfrom", ctx)
	if got := s.must("run", "--rm", "bindfrom", "cat", "/dir", "/file", "/rw", "/after").stdout; got != "tool-data\ntool-data\nmine\ntool-data\n" {
		t.Fatalf("the RUNs saw %q", got)
	}
	bad := "FROM busybox AS tools\nFROM busybox\nRUN --mount=type=bind,from=tools,source=/nope,target=/t true\n"
	r := s.runIn([]byte(bad), "build", "-f", "-", "-t", "bad", ctx)
	if r.code == 0 || !strings.Contains(r.stderr, "/nope") {
		t.Fatalf("a missing source= was not an error naming it: exit %d\n%s", r.code, r.stderr)
	}
}
