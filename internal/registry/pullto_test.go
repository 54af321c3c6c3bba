package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
			for i, c := range store.ChainIDs(diffIDs(t, img)) {
				if _, ok := st.HasLayerDir(c); !ok {
					t.Errorf("layer %d was not extracted by the pull", i)
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

// TestPullToDamagedBlob pulls from a registry that serves one layer with a
// byte flipped: the pull fails, naming the layer, and leaves no layer dir,
// no blob of that layer, no image and nothing in the store's tmp/.
func TestPullToDamagedBlob(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t)
	img := plainImage(t, 11, 3, types.OCIManifestSchema1)
	ref := host + "/test/damaged:v1"
	if _, err := Push(ctx, img, ref, testOptions()); err != nil {
		t.Fatal(err)
	}
	pushed, _, err := Pull(ctx, ref, testOptions()) // the push compressed the layers
	if err != nil {
		t.Fatal(err)
	}
	m, err := pushed.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	bad := m.Layers[1].Digest
	rec.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+bad.String()) {
			return false
		}
		got := httptest.NewRecorder()
		rec.next.ServeHTTP(got, r)
		body := got.Body.Bytes()
		body[len(body)/2] ^= 0xff
		for k, v := range got.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(got.Code)
		w.Write(body)
		return true
	}
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = PullTo(ctx, st, ref, PullToOptions{Options: testOptions()})
	if err == nil || !strings.Contains(err.Error(), bad.String()) {
		t.Fatalf("got error %v, want one naming the layer %s", err, bad)
	}
	if _, _, err := st.Image(ref); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the image is in the store: %v", err)
	}
	if st.HasBlob(bad) {
		t.Error("the damaged blob is in the store")
	}
	if _, ok := st.HasLayerDir(store.ChainIDs(diffIDs(t, img))[1]); ok {
		t.Error("the damaged layer was extracted")
	}
	for _, dir := range []string{"tmp", "layers"} {
		ents, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			_, err := os.Stat(filepath.Join(root, dir, e.Name(), "diffid"))
			if dir == "tmp" || err != nil {
				t.Errorf("left in %s/: %s", dir, e.Name())
			}
		}
	}
}
