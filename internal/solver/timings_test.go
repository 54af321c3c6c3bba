package solver

import (
	"testing"
	"time"
)

// TestTimings checks that a build says where its time went: its RUN, the
// commit and tar of its layer and the image's export each count, and the
// summary line names every part.
func TestTimings(t *testing.T) {
	st := openStore(t)
	res, err := fakeBuild(t, st, &fakeExec{}, "FROM scratch\nRUN write a 1\n", nil, Options{Tags: []string{"time:test"}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	parts := []struct {
		name string
		got  time.Duration
	}{{"Run", res.Timings.Run}, {"Commit", res.Timings.Commit}, {"Layer", res.Timings.Layer}, {"Export", res.Timings.Export}}
	for _, p := range parts {
		t.Run(p.name, func(t *testing.T) {
			if p.got <= 0 {
				t.Errorf("Timings.%s: got %v, want > 0", p.name, p.got)
			}
		})
	}
	got := Timings{Run: 1500 * time.Millisecond, Commit: 20 * time.Millisecond, Layer: 300 * time.Millisecond, Export: 10 * time.Millisecond}.String()
	want := "snapshot 0.00s, RUN 1.50s, COPY/ADD 0.00s, commit 0.02s, layer tar+hash 0.30s (0.00s of it beside other steps), compression 0.00s, export 0.01s"
	if got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
	got = Timings{Layer: 300 * time.Millisecond, LayerBackground: 250 * time.Millisecond, LayerWait: 50 * time.Millisecond}.String()
	want = "snapshot 0.00s, RUN 0.00s, COPY/ADD 0.00s, commit 0.00s, layer tar+hash 0.30s (0.20s of it beside other steps), compression 0.00s, export 0.00s"
	if got != want {
		t.Errorf("String with a background part: got %q, want %q", got, want)
	}
}
