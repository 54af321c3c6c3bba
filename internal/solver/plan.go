package solver

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/store"
)

// PlannedStep is one filesystem step (RUN, COPY, ADD, WORKDIR) of a plan.
type PlannedStep struct {
	// Stage is the stage's index.
	Stage int
	// Line is the instruction's line in the Dockerfile.
	Line int
	// Key is the step's cache key, the one a build computes.
	Key string
	// Cached says whether the store's build cache holds the step.
	Cached bool
}

// PlanResult is what Plan found in the build cache.
type PlanResult struct {
	// Steps are the steps looked up, in the order each stage reached them;
	// a stage ends at its first step the cache lacks (the keys after it
	// depend on what that step would make).
	Steps []PlannedStep
	// Image is the image the build would make, assembled from the cached
	// layers (not stored); nil when a step the target needs is not cached.
	Image v1.Image
	// Missing says what the cache lacks when Image is nil: the step's
	// FILE:LINE, a base image not in the store, or an ADD that would
	// download.
	Missing string
}

// notCachedError stops a plan at a step the cache lacks.
type notCachedError struct{ what string }

func (e *notCachedError) Error() string { return "not cached: " + e.what }

// Plan looks the build opts describes up in the store's build cache without
// running a step: it computes every step's cache key as Build does (the
// same dispatch, through the same step wrapper) and, when the cache holds
// every step of the target, returns the image the build would make. It
// neither pulls base images nor downloads ADD sources (a step that would
// need to is not cached), nor asks imported caches; --squash is not
// applied. Progress, caches and outputs in opts are ignored.
func Plan(ctx context.Context, st *store.Store, opts Options) (_ *PlanResult, err error) {
	defer recoverAs(&err, func() string { return "plan" })
	opts.Progress, opts.Puller, opts.CacheFrom = nil, nil, nil
	opts.CacheImports, opts.CacheExports = nil, nil
	opts.Squash, opts.SquashAll, opts.Pull = false, false, false
	b, _, done, err := newBuilder(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	b.planOnly = true
	final, err := b.runStages(ctx)
	res := &PlanResult{Steps: b.planned}
	var nc *notCachedError
	if errors.As(err, &nc) {
		res.Missing = nc.what
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	if res.Image, err = b.finish(ctx, final); err != nil {
		return nil, err
	}
	return res, nil
}

// planStep records a step a plan looked up, and stops the plan at the
// first one the cache lacks.
func (sr *stageRun) planStep(key string, hit bool) error {
	b := sr.b
	line := 0
	if sr.cur != nil {
		line = dockerfile.Line(sr.cur.Location())
	}
	b.mu.Lock()
	b.planned = append(b.planned, PlannedStep{Stage: sr.ps.Index, Line: line, Key: key, Cached: hit})
	b.mu.Unlock()
	if !hit {
		return &notCachedError{what: fmt.Sprintf("the step at %s:%d", b.df.File, line)}
	}
	return nil
}

// planFetch stops a plan where a step's key needs a download (ADD of a URL
// or of a git repository): a plan touches no network.
func (sr *stageRun) planFetch(src string) error {
	if !sr.b.planOnly {
		return nil
	}
	return &notCachedError{what: "ADD " + src + ", which needs a download"}
}
