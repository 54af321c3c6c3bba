package solver

import (
	"context"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/squash"
)

// squash merges the image's layers as --squash or --squash-all ask, and
// returns img unchanged when neither is set.
func (b *builder) squash(ctx context.Context, img v1.Image) (v1.Image, error) {
	if !b.opts.Squash && !b.opts.SquashAll {
		return img, nil
	}
	from, what := 0, "squashing all layers into one"
	if !b.opts.SquashAll {
		var err error
		if from, err = b.baseLayers(); err != nil {
			return nil, err
		}
		what = fmt.Sprintf("squashing the layers above the base image's %s into one", plural(from, "layer"))
	}
	id := b.counter.Next()
	start := time.Now()
	b.sink.Event(progress.Event{ID: id, Name: what, Status: progress.Started, Time: start})
	res, err := squash.Image(ctx, b.st, img, squash.Options{From: from})
	if err != nil {
		b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: err.Error(), Time: time.Now()})
		return nil, fmt.Errorf("build: %w", err)
	}
	b.sink.Event(progress.Event{ID: id, Status: progress.Done, Elapsed: time.Since(start), Time: time.Now()})
	return res.Image, nil
}

// baseLayers returns the number of layers of the image the target stage is
// built on: the FROM image at the root of its chain of FROM stages (0 for
// scratch).
func (b *builder) baseLayers() (int, error) {
	i := b.plan.Target
	for b.plan.Stages[i].BaseStage >= 0 {
		i = b.plan.Stages[i].BaseStage
	}
	ref := b.plan.Stages[i].Base
	if strings.EqualFold(ref, "scratch") {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.images[ref]; ok {
		return len(s.layers), nil
	}
	return 0, fmt.Errorf("build: --squash: the layers of the base image %s are unknown: use --squash-all", ref)
}

// plural returns "1 layer", "2 layers".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
