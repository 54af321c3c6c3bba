package solver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/snapshot"
)

// fsStep is one step that makes a layer (RUN, COPY, ADD, WORKDIR), as the
// shared step wrapper (doStep) runs it.
type fsStep struct {
	name   string // the progress line's name
	key    string // the cache key
	hist   string // the history entry's created_by
	tmpPfx string // prefix of the scratch dir in the store ("run-", "copy-")
	// exec runs the step on root, the step's fresh snapshot of the
	// stage's layers; id is the step's progress id, for output.
	exec func(ctx context.Context, id int, root snapshot.Mount) error
	// prepare, when set, fetches what exec needs once the step is not
	// cached (an ADD's git checkout).
	prepare func() error
	// linkKey, when set, is the key of a --link layer (copy_link.go): the
	// step is made on an empty root, and its layer is reused under
	// linkKey whatever the layers below.
	linkKey string
}

// exitError is a RUN whose command exited non-zero: progress shows the
// code, the error the command, the code and the output's last lines.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// doStep runs a filesystem step: the cache first (with --cache-from), else
// exec in a scratch dir, whose upper dir is committed as a layer and
// recorded in the cache; progress hears Cached, or Started then Done or
// Failed (a panic too). The cache record is written last: a failing step
// leaves none.
func (sr *stageRun) doStep(ctx context.Context, st fsStep) error {
	b := sr.b
	id := b.counter.Next()
	start := time.Now()
	if st.linkKey != "" {
		// a --link layer's reuse and record name the layers below
		if err := sr.settle(); err != nil {
			return err
		}
	}
	hit, err := sr.cached(ctx, st.key, st.hist)
	if err == nil && !hit && st.linkKey != "" {
		hit, err = sr.reuseLinked(st.linkKey, st.key, st.hist)
	}
	if err != nil {
		return err
	}
	if b.planOnly {
		if err := sr.planStep(st.key, hit); err != nil {
			return err
		}
	}
	if hit {
		b.countStep(true)
		b.sink.Event(progress.Event{ID: id, Name: st.name, Status: progress.Cached, Time: start})
		return nil
	}
	b.sink.Event(progress.Event{ID: id, Name: st.name, Status: progress.Started, Time: start})
	ended := false
	defer func() {
		if !ended { // a panic on its way to the stage's recoverAs
			b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: "panic", Time: time.Now()})
		}
	}()
	if st.prepare != nil {
		err = st.prepare()
	}
	if err == nil {
		err = sr.execStep(ctx, id, st)
	}
	ended = true
	if err != nil {
		msg := err.Error()
		var ee *exitError
		if errors.As(err, &ee) {
			msg = fmt.Sprintf("exit code %d", ee.code)
		} else if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			msg = progress.Canceled
		}
		b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: msg, Time: time.Now()})
		return err
	}
	b.countStep(false)
	b.sink.Event(progress.Event{ID: id, Status: progress.Done, Elapsed: time.Since(start), Time: time.Now()})
	return nil
}

// execStep runs st.exec on a fresh snapshot of the stage's layers and
// commits what it changed.
func (sr *stageRun) execStep(ctx context.Context, id int, st fsStep) error {
	b := sr.b
	lowers, err := b.lowerDirs(ctx, sr.s)
	if err != nil {
		return err
	}
	if st.linkKey != "" {
		lowers = nil // the layer is made on an empty root
	}
	start := time.Now()
	snap, err := b.snap.Prepare(ctx, lowers)
	b.times.add(snapshotPart, start)
	if err != nil {
		return err
	}
	keep := false // the snapshot holds a pending layer's files
	defer func() {
		if !keep {
			b.snap.Remove(snap)
		}
	}()
	part := stepsPart
	if st.tmpPfx == "run-" {
		part = runPart
	}
	start = time.Now()
	err = st.exec(ctx, id, snap.Mount())
	b.times.add(part, start)
	if err != nil {
		return err
	}
	start = time.Now()
	upper, err := b.snap.Commit(ctx, snap)
	b.times.add(commitPart, start)
	if err != nil {
		return err
	}
	blob := b.blobsFor(sr.ps.Index)
	if blob && st.linkKey == "" && len(sr.s.dirs) == len(sr.s.layers) {
		if err := b.clamp(upper); err != nil {
			return err
		}
		sr.startLayer(ctx, st, snap, upper)
		keep = true
		return nil
	}
	if err := sr.settle(); err != nil { // this layer's dir is named after those below
		return err
	}
	l, ld, err := b.commit(ctx, sr.s, upper, commitOptions{Blob: blob, Key: st.key})
	if err != nil {
		return err
	}
	sr.s.addLayer(l, ld)
	sr.s.history(st.hist, false, b.now())
	sr.s.key = st.key
	if err := sr.remember(st.key, &l); err != nil {
		return err
	}
	if st.linkKey != "" {
		return sr.keepLinked(st.linkKey)
	}
	return nil
}
