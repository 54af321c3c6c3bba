package analyze

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestHistory(t *testing.T) {
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.History = append(cfg.History, v1.History{CreatedBy: "ENV A=1", EmptyLayer: true})
	withEnv, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.History = nil
	bare, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		img       v1.Image
		wantEmpty []bool // newest first
	}{
		{"history with an empty entry", withEnv, []bool{true, false, false}},
		{"no history: one entry per layer", bare, []bool{false, false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := History(tt.img)
			if err != nil {
				t.Fatal(err)
			}
			id, err := tt.img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.wantEmpty) {
				t.Fatalf("got %d entries, want %d", len(got), len(tt.wantEmpty))
			}
			for i, e := range got {
				wantID := "<missing>"
				if i == 0 {
					wantID = id.String()
				}
				if e.ID != wantID || e.EmptyLayer != tt.wantEmpty[i] || (e.Size == 0) != tt.wantEmpty[i] || (e.DiffID == "") != tt.wantEmpty[i] {
					t.Errorf("entry %d: got %+v, want ID %s, empty %v", i, e, wantID, tt.wantEmpty[i])
				}
			}
		})
	}
}
