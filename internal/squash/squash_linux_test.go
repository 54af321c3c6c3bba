package squash

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/strata-build/strata/internal/store"
)

// testImage stores an image of the given layers, each with a history entry,
// plus an empty-layer ENV entry between the base layer and the rest.
func testImage(t *testing.T, st *store.Store, name string, layers ...[]ent) v1.Image {
	t.Helper()
	img := empty.Image
	for i, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   static.NewLayer(tarOf(t, l...), types.OCIUncompressedLayer),
			History: v1.History{CreatedBy: "layer " + string(rune('0'+i)), Created: v1.Time{Time: time.Unix(1700000000, 0).UTC()}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			cf, _ := img.ConfigFile()
			cf = cf.DeepCopy()
			cf.History = append(cf.History, v1.History{CreatedBy: "ENV A=1", EmptyLayer: true})
			cf.Config.Env = []string{"A=1"}
			cf.Config.Cmd = []string{"/bin/sh"}
			if img, err = mutate.ConfigFile(img, cf); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := st.WriteImage(context.Background(), img, name); err != nil {
		t.Fatal(err)
	}
	stored, _, err := st.Image(name)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

func TestImage(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(t, st, "app:1",
		[]ent{dir("etc"), file("etc/passwd", "root"), file("etc/group", "g")},
		[]ent{file("big", "xxxxxxxxxxxxxxxxxxxxxxxx")},
		[]ent{wh(".wh.big"), dir("etc"), wh("etc/.wh.group")},
		[]ent{file("x", "1")},
	)
	cfg, _ := img.ConfigFile()

	base, ok, err := FindBase(st, img)
	if err != nil || ok {
		t.Fatalf("FindBase with no base stored = %v, %v, %v; want none", base, ok, err)
	}
	testImage(t, st, "base:1", []ent{dir("etc"), file("etc/passwd", "root"), file("etc/group", "g")})
	base, ok, err = FindBase(st, img)
	if err != nil || !ok || base != (Base{Layers: 1, Name: "base:1"}) {
		t.Fatalf("FindBase = %+v, %v, %v; want base:1 with 1 layer", base, ok, err)
	}

	res, err := Image(ctx, st, img, Options{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(res.Image, validate.Fast); err != nil {
		t.Errorf("validate: %v", err)
	}
	got, _ := res.Image.ConfigFile()
	if diff := cmp.Diff(got.RootFS.DiffIDs, []v1.Hash{cfg.RootFS.DiffIDs[0], res.DiffID}); diff != "" {
		t.Errorf("diff_ids (-got +want):\n%s", diff)
	}
	var empties []bool
	for _, h := range got.History {
		empties = append(empties, h.EmptyLayer)
	}
	if diff := cmp.Diff(empties, []bool{false, true, true, true, false}); diff != "" {
		t.Errorf("history empty_layer marks (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(got.Config, cfg.Config); diff != "" {
		t.Errorf("config changed (-got +want):\n%s", diff)
	}
	rc, err := st.OpenBlob(res.DiffID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(listTar(t, data), []string{"etc/", "etc/.wh.group=", "x=1"}); diff != "" {
		t.Errorf("squashed layer (-got +want):\n%s", diff)
	}
	if _, err := st.WriteImage(ctx, res.Image, "app:squashed"); err != nil {
		t.Fatal(err)
	}
	// The same squash again gives the same image.
	again, err := Image(ctx, st, img, Options{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := res.Image.Digest()
	d2, _ := again.Image.Digest()
	if d1 != d2 {
		t.Errorf("squashing twice gave %s and %s", d1, d2)
	}

	all, err := Image(ctx, st, img, Options{From: 0})
	if err != nil {
		t.Fatal(err)
	}
	ac, _ := all.Image.ConfigFile()
	if len(ac.RootFS.DiffIDs) != 1 || all.Kept != 0 || all.Merged != 4 {
		t.Errorf("squash all: %d diff_ids, kept %d, merged %d; want 1, 0, 4", len(ac.RootFS.DiffIDs), all.Kept, all.Merged)
	}
	if _, err := Image(ctx, st, img, Options{From: 5}); err == nil {
		t.Errorf("Image with From past the layers succeeded")
	}
	same, err := Image(ctx, st, img, Options{From: 4})
	if err != nil || same.Image != img || same.Merged != 0 {
		t.Errorf("Image with nothing to merge = %+v, %v; want the image itself", same, err)
	}
}

func TestHistory(t *testing.T) {
	e := func(empty bool) v1.History { return v1.History{EmptyLayer: empty} }
	tests := []struct {
		name     string
		in       []v1.History
		from     int
		layers   int
		hasLayer bool
		want     []bool
		wantErr  bool
	}{
		{name: "keep base", in: []v1.History{e(false), e(true), e(false), e(true), e(false), e(true)}, from: 1, layers: 3, hasLayer: true,
			want: []bool{false, true, true, true, false, true}},
		{name: "all", in: []v1.History{e(false), e(true), e(false)}, from: 0, layers: 2, hasLayer: true,
			want: []bool{true, true, false}},
		{name: "nothing left", in: []v1.History{e(false), e(false)}, from: 1, layers: 2, hasLayer: false,
			want: []bool{false, true}},
		{name: "mismatch squashed whole", in: []v1.History{e(true), e(true)}, from: 0, layers: 3, hasLayer: true,
			want: []bool{true, false}},
		{name: "mismatch kept base", in: []v1.History{e(true), e(true)}, from: 1, layers: 3, hasLayer: true, wantErr: true},
		{name: "no history", in: nil, from: 1, layers: 3, hasLayer: true, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := History(tt.in, tt.from, tt.layers, tt.hasLayer)
			if (err != nil) != tt.wantErr {
				t.Fatalf("History error = %v, want error %v", err, tt.wantErr)
			}
			var got []bool
			for _, h := range out {
				got = append(got, h.EmptyLayer)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("empty_layer marks (-got +want):\n%s", diff)
			}
		})
	}
}

func TestKeep(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(t, st, "app:1",
		[]ent{dir("etc"), file("etc/passwd", "root")},
		[]ent{file("a", "1")},
		[]ent{file("b", "2")},
	)
	two, minus := 2, -1
	for _, tt := range []struct {
		name     string
		opts     KeepOptions
		base     bool // store the first layer as base:1 first
		want     int
		wantBase *Base
		wantErr  string
	}{
		{"all", KeepOptions{All: true}, false, 0, nil, ""},
		{"from", KeepOptions{From: &two}, false, 2, nil, ""},
		{"negative from", KeepOptions{From: &minus}, false, 0, nil, "cannot keep -1 layers"},
		{"no base", KeepOptions{}, false, 0, nil, ErrNoBase.Error()},
		{"base", KeepOptions{}, true, 1, &Base{Layers: 1, Name: "base:1"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.base {
				testImage(t, st, "base:1", []ent{dir("etc"), file("etc/passwd", "root")})
			}
			got, base, err := Keep(st, img, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || !cmp.Equal(base, tt.wantBase) {
				t.Errorf("got %d, %+v; want %d, %+v", got, base, tt.want, tt.wantBase)
			}
		})
	}
}
