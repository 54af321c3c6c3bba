package solver

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// finish turns the target stage's state into the image to store.
func (b *builder) finish(ctx context.Context, s *state) (v1.Image, error) {
	if err := b.ensureBlobs(ctx, s); err != nil {
		return nil, err
	}
	s = s.clone()
	if len(b.opts.Labels) > 0 {
		if s.cfg.Config.Labels == nil {
			s.cfg.Config.Labels = map[string]string{}
		}
		for _, k := range sortedKeys(b.opts.Labels) {
			s.cfg.Config.Labels[k] = b.opts.Labels[k]
		}
	}
	created := b.now()
	if n := len(s.cfg.History); n > 0 && !s.cfg.History[n-1].Created.IsZero() {
		created = s.cfg.History[n-1].Created.Time
	}
	s.cfg.Created = v1.Time{Time: created}
	layers := 0
	for _, h := range s.cfg.History {
		if !h.EmptyLayer {
			layers++
		}
	}
	if layers != len(s.cfg.RootFS.DiffIDs) && len(s.cfg.History) > 0 {
		// A base image whose history does not match its layers: keep going,
		// as docker does, but never write a mismatch we made ourselves.
		base := len(s.cfg.RootFS.DiffIDs) - layers
		if base < 0 {
			return nil, fmt.Errorf("build: internal error: %d history entries with layers for %d layers", layers, len(s.cfg.RootFS.DiffIDs))
		}
	}
	return s.image(b.st)
}
