package solver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/snapshot"
	"github.com/strata-build/strata/internal/store"
)

// A layer that reaches the image is tarred and hashed in the background:
// the stage's next steps run on its files (the snapshot's upper dir, a
// lower of theirs as it is) while its blob is written, so that the steps
// after a layer hide its tar. The layer's diff_id names its layer dir
// (through the chain id, which needs every layer below) and goes in its
// cache record, so the stage settles its pending layers, in order (waits
// for their blobs, moves their files into the store and writes their
// records), before anything needs them: a cache lookup that finds a
// record, a layer committed without a background tar, a --link step, the
// stage's end, or its failure.

// backgroundTars is how many layer tars a build writes in the background
// at once: more would not go faster on the disk and hold more memory.
const backgroundTars = 2

// pendingLayer is a layer whose blob is being written.
type pendingLayer struct {
	done chan struct{}
	l    layerInfo // the blob's, once done, unless err
	err  error
	// snap holds the upper dir until it becomes the layer dir.
	snap  *snapshot.Snapshot
	upper string
	// index is the layer's index in the stage's state.
	index int
	// at is the state the step reached (a copy), for its cache record;
	// key is the step's cache key; cmd its instruction, which locates an
	// error.
	at  *state
	key string
	cmd instructions.Command
}

// startLayer adds the upper dir of snap, which the step st made, as the
// stage's top layer, and starts writing its blob. Its diff_id in the
// state is a stand-in until settle.
func (sr *stageRun) startLayer(ctx context.Context, st fsStep, snap *snapshot.Snapshot, upper string) {
	b := sr.b
	p := &pendingLayer{done: make(chan struct{}), snap: snap, upper: upper, key: st.key, cmd: sr.cur}
	where := sr.where() + ", writing its layer"
	go func() {
		defer close(p.done)
		defer recoverAs(&p.err, func() string { return where })
		select {
		case b.background <- struct{}{}:
			defer func() { <-b.background }()
		case <-ctx.Done():
			p.err = ctx.Err()
			return
		}
		start := time.Now()
		p.l, p.err = b.writeLayer(ctx, upper)
		b.times.add(layerBackgroundPart, start)
	}()
	// A stand-in diff_id (a zero one would not survive the JSON of a
	// state's clone), which names nothing.
	standIn := v1.Hash{Algorithm: "sha256", Hex: hashKey("pending-layer", st.key)}
	sr.s.addLayer(layerInfo{Blob: standIn, MediaType: types.OCIUncompressedLayer, DiffID: standIn}, &store.LayerDir{Path: upper})
	sr.s.history(st.hist, false, b.now())
	sr.s.key = st.key
	sr.keys = append(sr.keys, st.key)
	p.index = len(sr.s.layers) - 1
	p.at = sr.s.clone()
	sr.pending = append(sr.pending, p)
}

// settle waits for the pending layers, in order, and makes each a layer
// like any other: its diff_id in the state, its files a layer dir of the
// store, its cache record written. On an error the files of that layer
// and of those above it are dropped.
func (sr *stageRun) settle() error {
	ps := sr.pending
	sr.pending = nil
	var err error
	for _, p := range ps {
		if err == nil {
			err = sr.settleOne(p)
		} else {
			<-p.done
		}
		sr.b.snap.Remove(p.snap) // the upper dir is gone from it, unless an error kept it
	}
	return err
}

// settleOne settles p, whose layers below are settled.
func (sr *stageRun) settleOne(p *pendingLayer) error {
	b := sr.b
	start := time.Now()
	<-p.done
	b.times.add(layerWaitPart, start)
	if p.err != nil {
		return p.fail(b.df.File, p.err)
	}
	s, i := sr.s, p.index
	s.layers[i] = p.l
	s.cfg.RootFS.DiffIDs[i] = p.l.DiffID
	chains := store.ChainIDs(s.cfg.RootFS.DiffIDs[:i+1])
	start = time.Now()
	ld, err := b.st.AddUnsyncedLayerDir(chains[i], p.l.DiffID, p.upper)
	b.times.add(commitPart, start)
	if err != nil {
		return p.fail(b.df.File, fmt.Errorf("keeping the layer's files: %w", err))
	}
	dirs := append([]store.LayerDir(nil), s.dirs...)
	dirs[i] = ld
	s.dirs = dirs
	// The state the step reached had the layers below unsettled too.
	copy(p.at.layers, s.layers[:i+1])
	copy(p.at.cfg.RootFS.DiffIDs, s.cfg.RootFS.DiffIDs[:i+1])
	if err := b.record(p.at, p.key, &p.l); err != nil {
		return p.fail(b.df.File, err)
	}
	return nil
}

// fail locates err, an error of p's step found as it settles, at the
// step's instruction in file (a later step's, or the stage's end, is where
// it surfaced).
func (p *pendingLayer) fail(file string, err error) error {
	var pe *PanicError
	if p.cmd == nil || errors.As(err, &pe) {
		return err
	}
	return dockerfile.Wrap(file, p.cmd.Location(), strings.ToUpper(p.cmd.Name()), err)
}
