package solver

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Timings is where a build's time went, each part summed over the steps
// that spent it: stages run in parallel, so the parts may add up to more
// than the build's wall time.
type Timings struct {
	// Snapshot is the time spent preparing steps' snapshots: an overlay
	// mount, or under the native snapshotter a copy of the parent's tree.
	// (The read-only views of COPY --from and RUN --mount=from= sources
	// count in their step's part.)
	Snapshot time.Duration
	// Run is the time RUN commands took in their sandbox.
	Run time.Duration
	// Steps is the time the other filesystem steps (COPY, ADD, WORKDIR)
	// took to change their snapshot.
	Steps time.Duration
	// Commit is the time spent making snapshots' upper dirs layer dirs.
	Commit time.Duration
	// Layer is the time spent writing and hashing layer tars (diff_ids and
	// uncompressed blobs).
	Layer time.Duration
	// LayerBackground is the part of Layer spent in the background,
	// beside the steps after the layer's (pending.go), and LayerWait the
	// time steps waited for it to end.
	LayerBackground, LayerWait time.Duration
	// Compress is the time spent compressing layers and writing them out
	// (--cache-to).
	Compress time.Duration
	// Export is the time spent assembling, squashing and storing the image.
	Export time.Duration
}

// String is the summary line progress shows at a build's end.
func (t Timings) String() string {
	parts := []struct {
		name string
		d    time.Duration
	}{{"snapshot", t.Snapshot}, {"RUN", t.Run}, {"COPY/ADD", t.Steps}, {"commit", t.Commit}, {"layer tar+hash", t.Layer},
		{"compression", t.Compress}, {"export", t.Export}}
	var sb strings.Builder
	for i, p := range parts {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s %.2fs", p.name, p.d.Seconds())
		if p.name == "layer tar+hash" {
			fmt.Fprintf(&sb, " (%.2fs of it beside other steps)", max(t.LayerBackground-t.LayerWait, 0).Seconds())
		}
	}
	return sb.String()
}

// timer adds up a build's Timings from its concurrent stages.
type timer struct {
	mu sync.Mutex
	t  Timings
}

// add adds the time since start to the part field picks.
func (tm *timer) add(field func(*Timings) *time.Duration, start time.Time) {
	d := time.Since(start)
	tm.mu.Lock()
	defer tm.mu.Unlock()
	*field(&tm.t) += d
}

// get returns the sums so far.
func (tm *timer) get() Timings {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.t
}

// The parts of Timings, for timer.add.
func snapshotPart(t *Timings) *time.Duration        { return &t.Snapshot }
func runPart(t *Timings) *time.Duration             { return &t.Run }
func stepsPart(t *Timings) *time.Duration           { return &t.Steps }
func commitPart(t *Timings) *time.Duration          { return &t.Commit }
func layerPart(t *Timings) *time.Duration           { return &t.Layer }
func layerWaitPart(t *Timings) *time.Duration       { return &t.LayerWait }
func layerBackgroundPart(t *Timings) *time.Duration { return &t.LayerBackground }
func compressPart(t *Timings) *time.Duration        { return &t.Compress }
func exportPart(t *Timings) *time.Duration          { return &t.Export }
