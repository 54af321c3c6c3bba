package store

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
)

// TestNewImage rebuilds a stored image from its config and layer
// descriptors: the same digest, valid, and readable after WriteImage.
func TestNewImage(t *testing.T) {
	s := openStore(t)
	orig := randomImage(t, time.Unix(1700000000, 0).UTC())
	_, err := s.WriteImage(ctxT(t), orig, "orig:1")
	must(t, err)
	parts, err := ReadImageParts(orig)
	must(t, err)
	img, err := s.NewImage(parts.Config, parts.Manifest.Layers, NewImageOptions{})
	must(t, err)
	checkImage(t, img)
	rec, err := s.WriteImage(ctxT(t), img, "rebuilt:1")
	must(t, err)
	want, err := orig.ConfigName()
	must(t, err)
	if rec.ID != want {
		t.Errorf("got image ID %s, want %s", rec.ID, want)
	}
	layers, err := img.Layers()
	must(t, err)
	for i, l := range layers {
		got, err := l.DiffID()
		must(t, err)
		if got != parts.Config.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: diff_id %s, want %s", i, got, parts.Config.RootFS.DiffIDs[i])
		}
	}
}

// TestNewImageMissingBlob reads a layer the store lacks through Missing, and
// fails without it.
func TestNewImageMissingBlob(t *testing.T) {
	s := openStore(t)
	orig := randomImage(t, time.Unix(1700000000, 0).UTC())
	parts, err := ReadImageParts(orig)
	must(t, err)
	without, err := s.NewImage(parts.Config, parts.Manifest.Layers, NewImageOptions{})
	must(t, err)
	if _, err := s.WriteImage(ctxT(t), without, "x:1"); err == nil {
		t.Error("WriteImage of an image whose blobs are nowhere succeeded")
	}
	with, err := s.NewImage(parts.Config, parts.Manifest.Layers, NewImageOptions{
		Missing: func(h v1.Hash) (partial.CompressedLayer, error) { return orig.LayerByDigest(h) },
	})
	must(t, err)
	checkImage(t, with)
}

func TestImageDiffIDCount(t *testing.T) {
	s := openStore(t)
	orig := randomImage(t, time.Unix(1700000000, 0).UTC())
	parts, err := ReadImageParts(orig)
	must(t, err)
	tests := []struct {
		name string
		run  func() error
	}{
		{"NewImage with a layer too few", func() error {
			_, err := s.NewImage(parts.Config, parts.Manifest.Layers[:1], NewImageOptions{})
			return err
		}},
		{"ReadImageParts of a config that lies", func() error {
			_, err := ReadImageParts(extraDiffID{orig})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), "2 diff_ids") && !strings.Contains(err.Error(), "3 diff_ids") {
				t.Errorf("got %v, want a layer and diff_id count mismatch", err)
			}
		})
	}
}

// extraDiffID is an image whose config has one diff_id more than its layers.
type extraDiffID struct{ v1.Image }

func (e extraDiffID) ConfigFile() (*v1.ConfigFile, error) {
	cf, err := e.Image.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, cf.RootFS.DiffIDs[0])
	return cf, nil
}
