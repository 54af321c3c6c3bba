package output

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
)

// WriteOCILayout writes images into the OCI image layout directory dir,
// creating it if needed. Blobs are written as stored; each name gets an
// index.json entry annotated as in WriteOCIArchive, replacing an entry of the
// same name already in dir; an image without names gets one entry without
// annotations.
func WriteOCILayout(ctx context.Context, dir string, images []NamedImage) error {
	names, err := parseNames(images)
	if err != nil {
		return fmt.Errorf("output: writing OCI layout %s: %w", dir, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "index.json")); !errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("output: writing OCI layout %s: %w", dir, err)
		}
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("output: writing OCI layout %s: %w", dir, err)
		}
	}
	for i, ni := range images {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(names[i]) == 0 {
			if err := p.AppendImage(ni.Image); err != nil {
				return fmt.Errorf("output: writing OCI layout %s: image %d: %w", dir, i, err)
			}
			continue
		}
		for _, n := range names[i] {
			ann := map[string]string{annotationImageName: n.full, annotationRefName: n.tag}
			err := p.ReplaceImage(ni.Image, match.Annotation(annotationImageName, n.full), layout.WithAnnotations(ann))
			if err != nil {
				return fmt.Errorf("output: writing OCI layout %s: %s: %w", dir, n.familiar, err)
			}
		}
	}
	return nil
}
