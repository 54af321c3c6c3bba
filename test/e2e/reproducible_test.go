package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const reproDockerfile = `FROM busybox
COPY file /file
RUN mkdir -p /out/sub && echo built > /out/sub/f && ln -s f /out/sub/link && rm /etc/group
FROM busybox
COPY --from=0 /out /out
ENV A=1
`

// TestReproducibleBuild builds one Dockerfile twice, in two fresh stores and
// a second apart, and wants the very same image with SOURCE_DATE_EPOCH (as
// a variable, a build arg, or --reproducible's epoch 0) and different images
// without it, so that the test can fail.
func TestReproducibleBuild(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"Dockerfile": reproDockerfile, "file": "content\n"})
	build := func(vars []string, args ...string) (id string, s *strata) {
		t.Helper()
		s = newStrata(t)
		// The busybox import is stamped with its own time: make both stores'
		// base the same image by loading one archive.
		s.must("rmi", "busybox:latest")
		s.must("load", "-i", reproBase(t))
		cmd := exec.Command(env.bin, append([]string{"--root", s.root, "build", "-q", "-t", "repro:1"}, append(args, ctxDir)...)...)
		cmd.Env = append(os.Environ(), vars...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build %v %v: %v\n%s", vars, args, err, out)
		}
		return strings.TrimSpace(string(out)), s
	}
	for _, tt := range []struct {
		name    string
		env     []string
		args    []string
		created string
	}{
		{"variable", []string{"SOURCE_DATE_EPOCH=1700000000"}, nil, "2023-11-14T22:13:20Z"},
		{"build arg", nil, []string{"--build-arg", "SOURCE_DATE_EPOCH=1700000000"}, "2023-11-14T22:13:20Z"},
		{"--reproducible", nil, []string{"--reproducible"}, "1970-01-01T00:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id1, s1 := build(tt.env, tt.args...)
			time.Sleep(1100 * time.Millisecond) // every mtime a RUN writes moves on
			if err := os.Chtimes(filepath.Join(ctxDir, "file"), time.Now(), time.Now()); err != nil {
				t.Fatal(err)
			}
			id2, _ := build(tt.env, tt.args...)
			if id1 != id2 {
				t.Errorf("two reproducible builds gave %s and %s", id1, id2)
			}
			var ii []struct {
				Created string
				Config  struct{ Env []string }
			}
			if err := json.Unmarshal([]byte(s1.must("inspect", "repro:1").stdout), &ii); err != nil {
				t.Fatal(err)
			}
			if len(ii) != 1 || ii[0].Created != tt.created {
				t.Errorf("created = %+v, want %s", ii, tt.created)
			}
			hist := s1.must("history", "--no-trunc", "--format", "{{.CreatedAt}}", "repro:1").stdout
			for _, l := range strings.Split(strings.TrimSpace(hist), "\n")[:2] { // ENV and COPY, newest first
				if !strings.HasPrefix(l, tt.created[:10]) {
					t.Errorf("history entry created %q, want %s", l, tt.created)
				}
			}
			// The kept layer dirs hold what the layers hold.
			if r := s1.run("fsck"); r.code != 0 {
				t.Errorf("fsck after a reproducible build: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
	t.Run("without SOURCE_DATE_EPOCH", func(t *testing.T) {
		id1, _ := build(nil)
		time.Sleep(1100 * time.Millisecond)
		id2, _ := build(nil)
		if id1 == id2 {
			t.Errorf("two builds a second apart without SOURCE_DATE_EPOCH gave the same image %s", id1)
		}
	})
	t.Run("bad value", func(t *testing.T) {
		s := newStrata(t)
		r := s.run("build", "--build-arg", "SOURCE_DATE_EPOCH=yesterday", ctxDir)
		if r.code == 0 || !strings.Contains(r.stderr, `SOURCE_DATE_EPOCH "yesterday": want whole seconds`) {
			t.Errorf("build with a bad SOURCE_DATE_EPOCH: exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// reproBase saves busybox once, so that every store loads the same image.
func reproBase(t *testing.T) string {
	t.Helper()
	p := filepath.Join(env.tmp, "repro-busybox.tar")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	s := newStrata(t)
	s.must("save", "-o", p+".tmp", "busybox:latest")
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
	return p
}
