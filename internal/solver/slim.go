package solver

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/progress"
)

// Slimmer shrinks the final image before it is tagged (strata build
// --slim-probe): it returns the image to tag instead, or an error, and then
// nothing is tagged.
type Slimmer interface {
	Slim(ctx context.Context, img v1.Image) (v1.Image, error)
}

// slim runs the Slimmer of the options, if any, as a progress step.
func (b *builder) slim(ctx context.Context, img v1.Image) (v1.Image, error) {
	if b.opts.Slimmer == nil {
		return img, nil
	}
	id := b.counter.Next()
	start := time.Now()
	b.sink.Event(progress.Event{ID: id, Name: "slimming the image to what its probes use", Status: progress.Started, Time: start})
	out, err := b.opts.Slimmer.Slim(ctx, img)
	if err != nil {
		b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: err.Error(), Time: time.Now()})
		return nil, fmt.Errorf("build: %w", err)
	}
	b.sink.Event(progress.Event{ID: id, Status: progress.Done, Elapsed: time.Since(start), Time: time.Now()})
	return out, nil
}
