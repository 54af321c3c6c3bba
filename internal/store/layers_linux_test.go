package store

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func whiteoutImage(t *testing.T) v1.Image {
	return tarImage(t,
		makeTar(t,
			tarEntry{name: "d/", typ: tar.TypeDir},
			tarEntry{name: "d/a", typ: tar.TypeReg, body: "hello"},
			tarEntry{name: "b", typ: tar.TypeReg, body: "bee"},
		),
		makeTar(t,
			tarEntry{name: "d/", typ: tar.TypeDir},
			tarEntry{name: "d/.wh.a", typ: tar.TypeReg},
			tarEntry{name: "d/c", typ: tar.TypeReg, body: "sea"},
		),
	)
}

func TestLayerDirs(t *testing.T) {
	s := openStore(t)
	_, err := s.WriteImage(ctxT(t), whiteoutImage(t), "wh")
	must(t, err)
	img, _, err := s.Image("wh")
	must(t, err)
	cf, err := img.ConfigFile()
	must(t, err)
	chains := ChainIDs(cf.RootFS.DiffIDs)

	dirs, err := s.LayerDirs(ctxT(t), img)
	must(t, err)
	var want []LayerDir
	for i, c := range chains {
		want = append(want, LayerDir{ChainID: c, DiffID: cf.RootFS.DiffIDs[i], Path: filepath.Join(s.Root(), "layers", c.Hex, "diff")})
	}
	if diff := cmp.Diff(dirs, want); diff != "" {
		t.Fatalf("LayerDirs (-got +want):\n%s", diff)
	}
	b, err := os.ReadFile(filepath.Join(dirs[0].Path, "d", "a"))
	must(t, err)
	if string(b) != "hello" {
		t.Errorf("layer 1 d/a: got %q", b)
	}
	var st unix.Stat_t
	must(t, unix.Lstat(filepath.Join(dirs[1].Path, "d", "a"), &st))
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("layer 2 d/a: mode %o rdev %d, want a 0:0 character device", st.Mode, st.Rdev)
	}
	if _, err := os.Lstat(filepath.Join(dirs[1].Path, "d", ".wh.a")); !os.IsNotExist(err) {
		t.Errorf("layer 2 keeps the .wh.a entry: %v", err)
	}
	b, err = os.ReadFile(filepath.Join(s.Root(), "layers", chains[1].Hex, "diffid"))
	must(t, err)
	if string(b) != cf.RootFS.DiffIDs[1].String() {
		t.Errorf("diffid file: got %q", b)
	}
	// A second call finds them without extracting.
	again, err := s.LayerDirs(ctxT(t), img)
	must(t, err)
	if diff := cmp.Diff(again, want); diff != "" {
		t.Errorf("second LayerDirs (-got +want):\n%s", diff)
	}
	if got := listDir(t, filepath.Join(s.Root(), "tmp")); len(got) != 0 {
		t.Errorf("tmp/ after extraction: %v", got)
	}
}

func TestLayerDirsConcurrent(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	must(t, err)
	_, err = s.WriteImage(ctxT(t), randomImage(t, time.Unix(1, 0)), "r") // gzip layers
	must(t, err)
	var wg sync.WaitGroup
	results := make([][]LayerDir, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root)
			if err != nil {
				errs[i] = err
				return
			}
			img, _, err := s.Image("r")
			if err != nil {
				errs[i] = err
				return
			}
			results[i], errs[i] = s.LayerDirs(ctxT(t), img)
		}()
	}
	wg.Wait()
	for i := range results {
		must(t, errs[i])
		if diff := cmp.Diff(results[i], results[0]); diff != "" {
			t.Errorf("goroutine %d (-got +want):\n%s", i, diff)
		}
	}
	if got := len(listDir(t, filepath.Join(root, "layers"))); got != 2 {
		t.Errorf("layer dirs: got %d, want 2", got)
	}
	if got := listDir(t, filepath.Join(root, "tmp")); len(got) != 0 {
		t.Errorf("tmp/ after extraction: %v", got)
	}
}

// wrongDiffIDs is an image whose config lies about its diff_ids.
type wrongDiffIDs struct{ v1.Image }

func (w wrongDiffIDs) ConfigFile() (*v1.ConfigFile, error) {
	cf, err := w.Image.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e", 64)}
	return cf, nil
}

func TestLayerDirsDiffIDMismatch(t *testing.T) {
	s := openStore(t)
	_, err := s.LayerDirs(ctxT(t), wrongDiffIDs{whiteoutImage(t)})
	if err == nil || !strings.Contains(err.Error(), "the config says sha256:eeee") {
		t.Fatalf("got %v, want a diff_id mismatch", err)
	}
	if got := listDir(t, filepath.Join(s.Root(), "tmp")); len(got) != 0 {
		t.Errorf("tmp/ after a failed extraction: %v", got)
	}
	if _, ok := s.HasLayerDir(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e", 64)}); ok {
		t.Error("a mismatched layer was renamed in")
	}
}
