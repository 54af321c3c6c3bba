package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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

// keptLayerBlob writes a dir with one file and stores its layer tar the way
// a build step does (WriteKeptLayerBlob: not synced).
func keptLayerBlob(t *testing.T, s *Store, content string) (dir string, h v1.Hash) {
	t.Helper()
	dir, err := s.TempDir("up-")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644))
	h, _, err = s.WriteKeptLayerBlob(ctxT(t), dir, layer.WriteOptions{Format: layer.DiffFormat}, nil)
	must(t, err)
	return dir, h
}

// blobRebooted makes the blob h look written during another boot.
func blobRebooted(t *testing.T, s *Store, h v1.Hash) {
	t.Helper()
	must(t, os.WriteFile(s.path(unsyncedBlobs, h.Hex), []byte("another-boot\n"), 0o644))
}

func TestUnsyncedBlob(t *testing.T) {
	t.Run("same boot", func(t *testing.T) {
		s := openStore(t)
		_, h := keptLayerBlob(t, s, "one")
		b, err := os.ReadFile(s.path(unsyncedBlobs, h.Hex))
		if err != nil {
			t.Fatalf("a kept layer's blob is not marked unsynced: %v", err)
		}
		if got := strings.TrimSpace(string(b)); got != bootID() {
			t.Errorf("the mark names boot %q, not this one (%q)", got, bootID())
		}
		if !s.HasBlob(h) {
			t.Fatal("HasBlob of a fresh unsynced blob: false")
		}
		if _, err := s.readBlob(h); err != nil {
			t.Fatalf("reading a fresh unsynced blob: %v", err)
		}
		if _, err := os.Stat(s.path(unsyncedBlobs, h.Hex)); err != nil {
			t.Errorf("the mark is gone during the same boot: %v", err)
		}
	})
	t.Run("synced blobs are not marked", func(t *testing.T) {
		s := openStore(t)
		h, _, err := s.WriteBlob(strings.NewReader("durable"), nil)
		must(t, err)
		if _, err := os.Stat(s.path(unsyncedBlobs, h.Hex)); !os.IsNotExist(err) {
			t.Errorf("WriteBlob marked its blob unsynced: %v", err)
		}
		dir, err := s.TempDir("up-")
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("squashed"), 0o644))
		h, _, err = s.WriteLayerBlob(ctxT(t), dir, layer.WriteOptions{Format: layer.DiffFormat}, nil)
		must(t, err)
		if _, err := os.Stat(s.path(unsyncedBlobs, h.Hex)); !os.IsNotExist(err) {
			t.Errorf("WriteLayerBlob (a dir the store does not keep) marked its blob unsynced: %v", err)
		}
	})
	t.Run("intact after a reboot", func(t *testing.T) {
		s := openStore(t)
		_, h := keptLayerBlob(t, s, "two")
		blobRebooted(t, s, h)
		if !s.HasBlob(h) {
			t.Fatal("HasBlob of an intact blob after a reboot: false")
		}
		if _, err := os.Stat(s.path(unsyncedBlobs, h.Hex)); !os.IsNotExist(err) {
			t.Errorf("the mark of a checked blob is still there: %v", err)
		}
	})
	t.Run("damaged after a reboot", func(t *testing.T) {
		s := openStore(t)
		dir, h := keptLayerBlob(t, s, "three")
		blobRebooted(t, s, h)
		must(t, os.Truncate(s.blobPath(h), 100)) // what a crash leaves
		_, err := s.OpenBlob(h)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("OpenBlob of a damaged unsynced blob after a reboot: %v, want not found", err)
		}
		if s.HasBlob(h) {
			t.Error("HasBlob of a damaged unsynced blob after a reboot: true")
		}
		if _, err := os.Stat(s.blobPath(h)); !os.IsNotExist(err) {
			t.Errorf("the damaged blob is still in blobs/: %v", err)
		}
		if _, err := os.Stat(s.path(unsyncedBlobs, h.Hex)); !os.IsNotExist(err) {
			t.Errorf("the mark of the dropped blob is still there: %v", err)
		}
		// What a build then does: write it again from the kept dir.
		if _, _, err := s.WriteKeptLayerBlob(ctxT(t), dir, layer.WriteOptions{Format: layer.DiffFormat}, &h); err != nil {
			t.Fatalf("writing the blob again from its dir: %v", err)
		}
		if _, err := s.readBlob(h); err != nil {
			t.Errorf("reading the blob written again: %v", err)
		}
	})
	t.Run("gc drops the mark with the blob", func(t *testing.T) {
		s := openStore(t)
		_, h := keptLayerBlob(t, s, "four")
		if _, err := s.GC(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(s.blobPath(h)); !os.IsNotExist(err) {
			t.Fatalf("gc kept an unreferenced blob: %v", err)
		}
		if _, err := os.Stat(s.path(unsyncedBlobs, h.Hex)); !os.IsNotExist(err) {
			t.Errorf("gc left the mark of the blob it removed: %v", err)
		}
	})
}
