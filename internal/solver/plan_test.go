package solver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPlan: Plan finds a build's steps in the cache under the keys the
// build computed, without running one, and stops a stage at the first step
// whose inputs changed.
func TestPlan(t *testing.T) {
	const built = "FROM scratch AS tool\nRUN write tool/bin t\n" +
		"FROM scratch\nCOPY a /a\nRUN write big 0123456789\nCOPY --from=tool /tool/bin /bin/tool\nRUN write small x\nCMD [\"x\"]\n"
	tests := []struct {
		name      string
		build     bool   // build first
		planned   string // the Dockerfile planned (default built)
		changeA   bool   // the context's a changes after the build
		wantLines []int  // the steps' lines, in order
		wantMiss  int    // the line of the step not cached, 0 for none
		// wantMissing is what the cache lacks, when it is no step
		wantMissing string
	}{
		{name: "nothing built", planned: built, wantLines: []int{2}, wantMiss: 2},
		{name: "after the build", build: true, planned: built, wantLines: []int{2, 4, 5, 6, 7}},
		{name: "the context changed", build: true, planned: built, changeA: true, wantLines: []int{2, 4}, wantMiss: 4},
		{name: "a RUN changed", build: true, wantLines: []int{2, 4, 5, 6, 7}, wantMiss: 7,
			planned: "FROM scratch AS tool\nRUN write tool/bin t\n" +
				"FROM scratch\nCOPY a /a\nRUN write big 0123456789\nCOPY --from=tool /tool/bin /bin/tool\nRUN write small y\n"},
		{name: "metadata changed only", build: true, wantLines: []int{2, 4, 5, 6, 7},
			planned: built + "LABEL a=b\n"},
		{name: "a base image not in the store", build: true, planned: "FROM busybox\nRUN write x 1\n", wantMissing: "the base image busybox (not in the store)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "a"), []byte("a1"), 0o644); err != nil {
				t.Fatal(err)
			}
			fx := &fakeExec{}
			opts := Options{ContextDir: dir, DockerfileName: "Dockerfile", Executor: fx}
			var res *Result
			if tt.build {
				var err error
				opts.DockerfileContent = []byte(built)
				if res, err = Build(context.Background(), st, opts); err != nil {
					t.Fatalf("Build: %v", err)
				}
			}
			if tt.changeA {
				if err := os.WriteFile(filepath.Join(dir, "a"), []byte("a2"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			runs := len(fx.scripts())
			opts.DockerfileContent = []byte(tt.planned)
			pr, err := Plan(context.Background(), st, opts)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if got := len(fx.scripts()); got != runs {
				t.Errorf("Plan ran %d RUNs, want none", got-runs)
			}
			var lines []int
			miss := 0
			for _, s := range pr.Steps {
				lines = append(lines, s.Line)
				if !s.Cached {
					miss = s.Line
				}
			}
			if diff := cmp.Diff(lines, tt.wantLines); diff != "" || miss != tt.wantMiss {
				t.Errorf("steps (-got +want):\n%s\nnot cached at line %d, want %d", diff, miss, tt.wantMiss)
			}
			if want := fmt.Sprintf("the step at Dockerfile:%d", tt.wantMiss); tt.wantMiss != 0 && pr.Missing != want {
				t.Errorf("Missing = %q, want %q", pr.Missing, want)
			}
			if tt.wantMissing != "" {
				if pr.Missing != tt.wantMissing || pr.Image != nil {
					t.Errorf("Missing = %q, image %v, want %q and none", pr.Missing, pr.Image, tt.wantMissing)
				}
				return
			}
			if (pr.Image != nil) != (tt.wantMiss == 0) {
				t.Fatalf("Image = %v, want one only when every step is cached", pr.Image)
			}
			if pr.Image == nil {
				return
			}
			var keys []string
			for _, s := range pr.Steps {
				keys = append(keys, s.Key)
			}
			if diff := cmp.Diff(keys, res.CacheKeys); diff != "" {
				t.Errorf("planned keys differ from the build's (-got +want):\n%s", diff)
			}
			cfg, err := pr.Image.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.RootFS.DiffIDs; len(got) != 4 {
				t.Errorf("planned image has %d layers, want 4", len(got))
			}
			if tt.planned == built {
				id, err := pr.Image.ConfigName()
				if err != nil {
					t.Fatal(err)
				}
				// The build and the plan stamp the image with the last
				// step's time: the same config.
				if id != res.ImageID {
					t.Errorf("planned image %s, built %s", id, res.ImageID)
				}
			}
		})
	}
}
