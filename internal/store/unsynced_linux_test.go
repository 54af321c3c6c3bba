package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-build/strata/internal/layer"
)

// unsyncedLayer writes a dir with one file, stores its layer tar as a blob
// the way a build commits, and adds the dir unsynced.
func unsyncedLayer(t *testing.T, s *Store, content string) LayerDir {
	t.Helper()
	dir, err := s.TempDir("up-")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644))
	var buf bytes.Buffer
	_, err = layer.WriteTar(ctxT(t), dir, &buf, layer.WriteOptions{Format: layer.DiffFormat})
	must(t, err)
	h, _, err := s.WriteBlob(&buf, nil)
	must(t, err)
	ld, err := s.AddUnsyncedLayerDir(h, h, dir)
	must(t, err)
	return ld
}

// rebooted makes ld look added during another boot.
func rebooted(t *testing.T, ld LayerDir) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(filepath.Dir(ld.Path), unsyncedFile), []byte("another-boot\n"), 0o644))
}

func TestUnsyncedLayerDir(t *testing.T) {
	t.Run("same boot", func(t *testing.T) {
		s := openStore(t)
		ld := unsyncedLayer(t, s, "one")
		if _, ok := s.HasLayerDir(ld.ChainID); !ok {
			t.Fatal("HasLayerDir of a fresh unsynced dir: false")
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(ld.Path), unsyncedFile)); err != nil {
			t.Errorf("the marker is gone during the same boot: %v", err)
		}
	})
	t.Run("intact after a reboot", func(t *testing.T) {
		s := openStore(t)
		ld := unsyncedLayer(t, s, "two")
		rebooted(t, ld)
		if got, ok := s.HasLayerDir(ld.ChainID); !ok || got != ld {
			t.Fatalf("HasLayerDir after a reboot of an intact dir = %v, %v", got, ok)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(ld.Path), unsyncedFile)); !os.IsNotExist(err) {
			t.Errorf("the marker of a checked dir is still there: %v", err)
		}
	})
	t.Run("damaged after a reboot", func(t *testing.T) {
		s := openStore(t)
		ld := unsyncedLayer(t, s, "three")
		rebooted(t, ld)
		must(t, os.Truncate(filepath.Join(ld.Path, "f"), 0)) // what a crash leaves
		if _, ok := s.HasLayerDir(ld.ChainID); ok {
			t.Fatal("HasLayerDir after a reboot of a damaged dir: true")
		}
		if _, err := os.Stat(filepath.Dir(ld.Path)); !os.IsNotExist(err) {
			t.Errorf("the damaged dir is still in layers/: %v", err)
		}
		if !s.HasBlob(ld.DiffID) {
			t.Error("the blob the layer is recovered from is gone")
		}
	})
	t.Run("without a blob, damaged after a reboot", func(t *testing.T) {
		s := openStore(t)
		dir, err := s.TempDir("up-")
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("only copy"), 0o644))
		var buf bytes.Buffer
		_, err = layer.WriteTar(ctxT(t), dir, &buf, layer.WriteOptions{Format: layer.DiffFormat})
		must(t, err)
		h, _, err := s.WriteBlob(&buf, nil)
		must(t, err)
		must(t, os.Remove(s.blobPath(h))) // a layer kept without its blob
		ld, err := s.AddUnsyncedLayerDir(h, h, dir)
		must(t, err)
		if _, ok := s.HasLayerDir(h); !ok {
			t.Fatal("HasLayerDir of a blob-less unsynced dir during its boot: false")
		}
		rebooted(t, ld)
		must(t, os.WriteFile(filepath.Join(ld.Path, "f"), []byte("torn"), 0o644))
		if _, ok := s.HasLayerDir(h); ok {
			t.Error("HasLayerDir of a damaged blob-less dir after a reboot: true")
		}
	})
}
