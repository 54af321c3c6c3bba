package registry

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/store"
)

// observer records what a pull reported per layer.
type observer struct {
	mu     sync.Mutex
	events map[v1.Hash][]string
}

func (o *observer) add(d v1.Hash, what string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	evs := o.events[d]
	if len(evs) == 0 || evs[len(evs)-1] != what {
		o.events[d] = append(evs, what)
	}
}

func (o *observer) Existing(d v1.Hash) { o.add(d, "existing") }
func (o *observer) Waiting(d v1.Hash)  { o.add(d, "waiting") }
func (o *observer) Read(d v1.Hash, n, total int64, done bool) {
	if done {
		o.add(d, "done")
		return
	}
	o.add(d, "reading")
}

// TestPullTo pulls an image into a store twice: the first pull downloads
// every layer under the tag and the repository digest, the second finds the
// image up to date and every layer there.
func TestPullTo(t *testing.T) {
	ctx := context.Background()
	host, _ := newRegistry(t)
	img := plainImage(t, 7, 2, types.OCIManifestSchema1)
	opts := testOptions()
	opts.TempDir = t.TempDir()
	ref := host + "/test/pullto:v1"
	dg, err := Push(ctx, img, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		wantUpToDate bool
		wantEvents   []string
	}{
		{"first", false, []string{"waiting", "reading", "done"}},
		{"again", true, []string{"existing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &observer{events: map[v1.Hash][]string{}}
			p, err := PullTo(ctx, st, ref, PullToOptions{Options: opts, Observer: obs})
			if err != nil {
				t.Fatal(err)
			}
			if p.Digest != dg || p.UpToDate != tc.wantUpToDate || len(p.Layers) != 2 {
				t.Errorf("got %+v, want digest %s, up to date %v, 2 layers", p, dg, tc.wantUpToDate)
			}
			for _, l := range p.Layers {
				if got := obs.events[l]; !cmp.Equal(got, tc.wantEvents) {
					t.Errorf("layer %s: events %v, want %v", l, got, tc.wantEvents)
				}
				if p.Existed[l] != tc.wantUpToDate {
					t.Errorf("layer %s: existed %v, want %v", l, p.Existed[l], tc.wantUpToDate)
				}
			}
			for _, name := range []string{ref, host + "/test/pullto@" + dg.String()} {
				if _, rec, err := st.Image(name); err != nil || rec.Manifest != dg {
					t.Errorf("Image(%s) = %v, %v; want manifest %s", name, rec.Manifest, err, dg)
				}
			}
		})
	}
}
