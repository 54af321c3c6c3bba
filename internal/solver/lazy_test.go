package solver

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/store"
)

// lazyDockerfile has a stage, big, whose layers reach the image only
// through COPY --from.
const lazyDockerfile = "FROM scratch AS big\nRUN write big/a 1\nRUN write big/b 2\nFROM scratch\nCOPY --from=big /big/a /a\n"

// diffIDsOf returns the diff_ids of the image named ref in st.
func diffIDsOf(t *testing.T, st *store.Store, ref string) []v1.Hash {
	t.Helper()
	return configOf(t, st, ref).RootFS.DiffIDs
}

// configOf returns the config of the image named ref in st.
func configOf(t *testing.T, st *store.Store, ref string) *v1.ConfigFile {
	t.Helper()
	img, _, err := st.Image(ref)
	if err != nil {
		t.Fatalf("reading image %s: %v", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestLazyLayers checks that the layers of a stage that reaches no image
// are never tarred or hashed (their dirs are not named by a diff_id), and
// that a later build targeting the stage takes them from the cache and
// gets the diff_ids a build that tarred them at once gets.
func TestLazyLayers(t *testing.T) {
	// Files written in different seconds make different layers: clamp
	// their mtimes so that every build of a step makes the same one.
	epoch := time.Unix(1700000000, 0)
	eager := openStore(t)
	if _, err := fakeBuild(t, eager, &fakeExec{}, lazyDockerfile, nil, Options{Tags: []string{"big:eager"}, Target: "big", SourceDateEpoch: &epoch}); err != nil {
		t.Fatalf("Build --target big: %v", err)
	}
	want := diffIDsOf(t, eager, "big:eager")
	if len(want) != 2 {
		t.Fatalf("the big stage has %d layers, want 2", len(want))
	}

	st := openStore(t)
	if _, err := fakeBuild(t, st, &fakeExec{}, lazyDockerfile, nil, Options{Tags: []string{"app:test"}, SourceDateEpoch: &epoch}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	for i, c := range store.ChainIDs(want) {
		if _, ok := st.HasLayerDir(c); ok {
			t.Errorf("layer %d of the big stage has a dir named by its diff_id: it was hashed on the build's path", i+1)
		}
		if st.HasBlob(want[i]) {
			t.Errorf("layer %d of the big stage has a blob", i+1)
		}
	}
	if diff := cmp.Diff(imageFiles(t, st, "app:test"), map[string]string{"/a": "1"}); diff != "" {
		t.Errorf("image files (-got +want):\n%s", diff)
	}

	tests := []struct {
		name     string
		opts     Options
		wantRuns int
	}{
		{name: "--target big takes the lazy layers from the cache", opts: Options{Target: "big"}, wantRuns: 0},
		{name: "a cache export of every layer runs the steps again", opts: Options{Target: "big", KeepLayerBlobs: true}, wantRuns: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := &fakeExec{}
			tt.opts.Tags = []string{"big:lazy"}
			tt.opts.SourceDateEpoch = &epoch
			if _, err := fakeBuild(t, st, fx, lazyDockerfile, nil, tt.opts); err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got := len(fx.scripts()); got != tt.wantRuns {
				t.Errorf("RUNs: got %d, want %d", got, tt.wantRuns)
			}
			if diff := cmp.Diff(diffIDsOf(t, st, "big:lazy"), want); diff != "" {
				t.Errorf("diff_ids (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(imageFiles(t, st, "big:lazy"), map[string]string{"/big/a": "1", "/big/b": "2"}); diff != "" {
				t.Errorf("image files (-got +want):\n%s", diff)
			}
		})
	}
}

// TestLazyLayersBelowAStage checks a stage built FROM a stage whose layers
// an earlier build kept lazy: the lazy layers come from the cache and get
// their real diff_ids in the image, the new step runs once, and a rebuild
// takes everything from the cache.
func TestLazyLayersBelowAStage(t *testing.T) {
	epoch := time.Unix(1700000000, 0)
	eager := openStore(t)
	if _, err := fakeBuild(t, eager, &fakeExec{}, lazyDockerfile, nil, Options{Tags: []string{"big:eager"}, Target: "big", SourceDateEpoch: &epoch}); err != nil {
		t.Fatalf("Build --target big: %v", err)
	}
	want := diffIDsOf(t, eager, "big:eager")
	st := openStore(t)
	if _, err := fakeBuild(t, st, &fakeExec{}, lazyDockerfile, nil, Options{Tags: []string{"app:test"}, SourceDateEpoch: &epoch}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	onTop := "FROM scratch AS big\nRUN write big/a 1\nRUN write big/b 2\nFROM big\nRUN write c 3\n"
	// Steps in order, not a table: the rebuild needs the first build.
	for _, step := range []struct {
		name     string
		wantRuns int
	}{{"first build on top", 1}, {"rebuild", 0}} {
		func() {
			fx := &fakeExec{}
			if _, err := fakeBuild(t, st, fx, onTop, nil, Options{Tags: []string{"top:test"}, SourceDateEpoch: &epoch}); err != nil {
				t.Fatalf("%s: Build: %v", step.name, err)
			}
			if got := len(fx.scripts()); got != step.wantRuns {
				t.Errorf("%s: RUNs: got %d, want %d", step.name, got, step.wantRuns)
			}
			got := diffIDsOf(t, st, "top:test")
			if len(got) != 3 {
				t.Fatalf("%s: got %d layers, want 3", step.name, len(got))
			}
			if diff := cmp.Diff(got[:2], want); diff != "" {
				t.Errorf("%s: diff_ids of the big stage's layers (-got +want):\n%s", step.name, diff)
			}
			if diff := cmp.Diff(imageFiles(t, st, "top:test"), map[string]string{"/big/a": "1", "/big/b": "2", "/c": "3"}); diff != "" {
				t.Errorf("%s: image files (-got +want):\n%s", step.name, diff)
			}
		}()
	}
}
