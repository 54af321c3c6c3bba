package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

// The helpers of the COPY and context tests are prefixed with cctx so that
// they cannot clash with the other test files of the package.

// cctxLastLayer returns the entry names of ref's top layer, in tar order,
// as `strata save` writes the layer.
func cctxLastLayer(t *testing.T, s *strata, ref string) []string {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "save.tar")
	s.must("save", "-o", archive, ref)
	files := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the archive of %s: %v", ref, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = data
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) == 0 {
		t.Fatalf("the archive of %s has no usable manifest.json (%v): %s", ref, err, files["manifest.json"])
	}
	layers := manifest[0].Layers
	var r io.Reader = bytes.NewReader(files[layers[len(layers)-1]])
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	} else {
		r = br
	}
	var names []string
	lr := tar.NewReader(r)
	for {
		h, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the top layer of %s: %v", ref, err)
		}
		names = append(names, h.Name)
	}
	return names
}

// cctxBuildEnv runs strata build with extra environment variables (TMPDIR
// for one) and fails the test on a non-zero exit.
func cctxBuildEnv(t *testing.T, s *strata, extraEnv []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.bin, append([]string{"--root", s.root, "build"}, args...)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strata build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestCopyContextWithOneCharNames copies a context whose top holds entries
// with one-character names, which once crashed the context digest (a
// slice past its end) instead of building.
func TestCopyContextWithOneCharNames(t *testing.T) {
	s := newStrata(t)
	ctx := bldContext(t, "FROM busybox\nCOPY . /dst\n", map[string]string{"a": "A\n", "x/y": "Y\n", "bc": "BC\n"})
	r := s.run("build", "-t", "onechar", ctx)
	if r.code != 0 || strings.Contains(r.stderr, "panic") {
		t.Fatalf("strata build: exit %d\n%s", r.code, r.stderr)
	}
	got := cctxLastLayer(t, s, "onechar")
	want := []string{"dst/", "dst/Dockerfile", "dst/a", "dst/bc", "dst/x/", "dst/x/y"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("top layer entries (-got +want):\n%s", diff)
	}
}

// TestCopyIntoRootAddsOnlyTheFiles copies into the image's root in the
// three ways that once also added empty directories named after strata's
// host paths (var/lib/strata/tmp/copy-N/sandbox-M) to the layer: the
// layer holds exactly the copied files, and a COPY --from leaves no mount
// point behind in the host's temporary directory.
func TestCopyIntoRootAddsOnlyTheFiles(t *testing.T) {
	// names of several characters: one-character ones met another bug
	files := map[string]string{"file.txt": "F\n", "dir/g.txt": "G\n"}
	for _, tc := range []struct {
		name string
		df   string
		want []string
	}{
		{"COPY . /", "FROM busybox\nCOPY . /\n", []string{"Dockerfile", "dir/", "dir/g.txt", "file.txt"}},
		{"WORKDIR / then COPY . .", "FROM busybox\nWORKDIR /\nCOPY . .\n", []string{"Dockerfile", "dir/", "dir/g.txt", "file.txt"}},
		{"COPY --from=stage /out /", "FROM busybox AS b\nRUN mkdir -p /out/sub && echo o > /out/out.txt && echo p > /out/sub/p.txt\n" +
			"FROM busybox\nCOPY --from=b /out /\n", []string{"out.txt", "sub/", "sub/p.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStrata(t)
			ctx := bldContext(t, tc.df, files)
			tmp := t.TempDir()
			cctxBuildEnv(t, s, []string{"TMPDIR=" + tmp}, "-t", "root", ctx)
			if diff := cmp.Diff(cctxLastLayer(t, s, "root"), tc.want); diff != "" {
				t.Errorf("top layer entries (-got +want):\n%s", diff)
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range left {
				t.Errorf("the build left %s in the host's temporary directory", e.Name())
			}
		})
	}
}
