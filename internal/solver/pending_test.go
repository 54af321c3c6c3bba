package solver

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-build/strata/internal/store"
)

// TestBackgroundLayers checks the layers tarred beside the steps after
// them (pending.go): each ends as any layer does, its blob hashing to its
// diff_id and its files a layer dir named by its chain id; the cache
// records name them, with the state each step reached (not a later
// one); and nothing is left in the store's tmp.
func TestBackgroundLayers(t *testing.T) {
	st := openStore(t)
	fx := &fakeExec{}
	df := "FROM scratch\nRUN write a 1\nENV X=1\nCOPY f /f\nRUN write b 2\nCMD [\"b\"]\n"
	files := map[string]string{"f": "file"}
	res, err := fakeBuild(t, st, fx, df, files, Options{Tags: []string{"bg:one"}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if res.Timings.LayerBackground <= 0 {
		t.Errorf("Timings.LayerBackground: got %v, want > 0", res.Timings.LayerBackground)
	}
	cfg := configOf(t, st, "bg:one")
	ids := cfg.RootFS.DiffIDs
	if len(ids) != 3 {
		t.Fatalf("diff_ids: got %d, want 3", len(ids))
	}
	chains := store.ChainIDs(ids)
	for i, id := range ids {
		if !st.HasBlob(id) {
			t.Errorf("layer %d: no blob %s", i, id)
		}
		ld, ok := st.HasLayerDir(chains[i])
		if !ok || ld.DiffID != id {
			t.Errorf("layer %d: layer dir of chain %s: %+v, %v; want one of diff_id %s", i, chains[i], ld, ok, id)
		}
	}
	if rep, err := st.Fsck(context.Background(), store.FsckOptions{}); err != nil || !rep.Clean() || rep.Layers != 3 {
		t.Errorf("Fsck: %+v, %v; want 3 layer dirs checked, no problem", rep, err)
	}
	ents, err := os.ReadDir(filepath.Join(st.Root(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("store tmp: got %d entries, want none left", len(ents))
	}

	// A rebuild is cached whole and makes the same image.
	runs := len(fx.scripts())
	if _, err := fakeBuild(t, st, fx, df, files, Options{Tags: []string{"bg:two"}}); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	if got := fx.scripts()[runs:]; len(got) != 0 {
		t.Errorf("rebuild ran %q, want nothing run", got)
	}
	checkSameImage(t, st, "bg:one", "bg:two")

	// The first RUN's record holds its own state: a build of the first
	// steps only is cached and stamped with that RUN's time.
	if _, err := fakeBuild(t, st, fx, "FROM scratch\nRUN write a 1\n", nil, Options{Tags: []string{"bg:first"}}); err != nil {
		t.Fatalf("build of the first step: %v", err)
	}
	if got := fx.scripts()[runs:]; len(got) != 0 {
		t.Errorf("build of the first step ran %q, want nothing run", got)
	}
	fcfg := configOf(t, st, "bg:first")
	if len(fcfg.History) != 1 || !fcfg.History[0].Created.Equal(cfg.History[0].Created.Time) {
		t.Errorf("history: got %+v, want the first entry of %+v", fcfg.History, cfg.History)
	}
	if !slices.Equal(fcfg.RootFS.DiffIDs, ids[:1]) {
		t.Errorf("diff_ids: got %v, want %v", fcfg.RootFS.DiffIDs, ids[:1])
	}
}

// checkSameImage fails unless refs a and b name the same image.
func checkSameImage(t *testing.T, st *store.Store, a, b string) {
	t.Helper()
	ia, _, err := st.Image(a)
	if err != nil {
		t.Fatal(err)
	}
	ib, _, err := st.Image(b)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := ia.Digest()
	db, _ := ib.Digest()
	if da != db {
		t.Errorf("%s is %s, %s is %s: want the same image", a, da, b, db)
	}
}

// TestBackgroundLayerThenHit checks a cache hit on top of a layer still
// being tarred: the first RUN's record is gone, so it runs again (its
// layer pending), and the second RUN's record is found on top of it.
func TestBackgroundLayerThenHit(t *testing.T) {
	st := openStore(t)
	fx := &fakeExec{}
	df := "FROM scratch\nRUN write a 1\nRUN write b 2\n"
	if _, err := fakeBuild(t, st, fx, df, nil, Options{Tags: []string{"hit:one"}}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	cfg := configOf(t, st, "hit:one")
	recs, err := st.CacheRecords()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("cache records: got %d, want 2", len(recs))
	}
	for _, r := range recs {
		if len(r.Chains) == 1 && r.Chains[0] == store.ChainIDs(cfg.RootFS.DiffIDs)[0] {
			if err := st.DeleteCache(r.Key); err != nil {
				t.Fatal(err)
			}
		}
	}
	runs := len(fx.scripts())
	if _, err := fakeBuild(t, st, fx, df, nil, Options{Tags: []string{"hit:two"}}); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	if got := fx.scripts()[runs:]; !slices.Equal(got, []string{"write a 1"}) {
		t.Errorf("rebuild ran %q, want the first RUN only", got)
	}
	cfg2 := configOf(t, st, "hit:two")
	ids := cfg2.RootFS.DiffIDs
	if len(ids) != 2 || ids[1] != cfg.RootFS.DiffIDs[1] || !st.HasBlob(ids[0]) {
		t.Errorf("diff_ids: got %v, want a new first layer with a blob and the cached second %s", ids, cfg.RootFS.DiffIDs[1])
	}
	if rep, err := st.Fsck(context.Background(), store.FsckOptions{}); err != nil || !rep.Clean() {
		t.Errorf("Fsck: %+v, %v; want no problem", rep, err)
	}
}
