package solver

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/procspec"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/store"
)

// imageFiles returns the regular files of the image named ref, flattened,
// with their content.
func imageFiles(t *testing.T, st *store.Store, ref string) map[string]string {
	t.Helper()
	img, _, err := st.Image(ref)
	if err != nil {
		t.Fatalf("reading image %s: %v", ref, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out["/"+strings.TrimPrefix(h.Name, "/")] = string(data)
		}
	}
}

// TestStageGraph checks how the solver runs a plan's stages: independent
// ones at once, a dependency's result feeding its dependents (FROM and
// COPY --from), and --target leaving out the stages it does not need.
func TestStageGraph(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		target     string
		meet       int
		wantRuns   []string // the RUN scripts, sorted
		wantFiles  map[string]string
	}{
		{
			name:       "independent stages run at once",
			dockerfile: "FROM scratch AS a\nRUN meet; write a 1\nFROM scratch AS b\nRUN meet; write b 2\nFROM scratch\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
			meet:       2,
			wantRuns:   []string{"meet; write a 1", "meet; write b 2"},
			wantFiles:  map[string]string{"/a": "1", "/b": "2"},
		},
		{
			name:       "FROM a stage sees its files and env",
			dockerfile: "FROM scratch AS base\nENV E=1\nRUN write base x\nFROM base\nRUN write top y\n",
			wantRuns:   []string{"write base x", "write top y"},
			wantFiles:  map[string]string{"/base": "x", "/top": "y"},
		},
		{
			name:       "COPY --from by index",
			dockerfile: "FROM scratch\nRUN write out/bin built\nFROM scratch\nCOPY --from=0 /out/bin /usr/bin/app\n",
			wantRuns:   []string{"write out/bin built"},
			wantFiles:  map[string]string{"/usr/bin/app": "built"},
		},
		{
			name:       "--target prunes the stages it does not need",
			dockerfile: "FROM scratch AS a\nRUN write a 1\nFROM scratch AS b\nRUN write b 2\nFROM b AS c\nRUN write c 3\nFROM scratch\nRUN write d 4\n",
			target:     "c",
			wantRuns:   []string{"write b 2", "write c 3"},
			wantFiles:  map[string]string{"/b": "2", "/c": "3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			fx := &fakeExec{meet: tt.meet}
			_, err := fakeBuild(t, st, fx, tt.dockerfile, nil, Options{Tags: []string{"graph:test"}, Target: tt.target})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := fx.scripts()
			slices.Sort(got)
			if diff := cmp.Diff(got, tt.wantRuns); diff != "" {
				t.Errorf("RUNs (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(imageFiles(t, st, "graph:test"), tt.wantFiles); diff != "" {
				t.Errorf("image files (-got +want):\n%s", diff)
			}
		})
	}
}

// TestRunSpec checks what a RUN hands the executor: the argv as SHELL
// wraps it, the environment (ENV, ARG, HOME), the user's working dir, the
// network and the mounts.
func TestRunSpec(t *testing.T) {
	st := openStore(t)
	fx := &fakeExec{}
	df := "FROM scratch\nSHELL [\"/bin/ash\", \"-e\", \"-c\"]\nENV E=1\nARG A=2\nWORKDIR /w\nRUN --network=none --mount=type=cache,target=/c write f 1\n"
	if _, err := fakeBuild(t, st, fx, df, nil, Options{}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(fx.runs) != 1 {
		t.Fatalf("got %d RUNs, want 1", len(fx.runs))
	}
	spec := fx.runs[0]
	if diff := cmp.Diff(spec.Args, []string{"/bin/ash", "-e", "-c", "write f 1"}); diff != "" {
		t.Errorf("argv (-got +want):\n%s", diff)
	}
	for _, kv := range []string{"E=1", "A=2", "HOME=/", "PATH=" + procspec.DefaultPath} {
		if !slices.Contains(spec.Env, kv) {
			t.Errorf("env: got %q, want it to have %s", spec.Env, kv)
		}
	}
	if got, want := spec.Dir, "/w"; got != want {
		t.Errorf("dir: got %q, want %q", got, want)
	}
	if got, want := spec.Network, "none"; got != want {
		t.Errorf("network: got %q, want %q", got, want)
	}
	var targets []string
	for _, m := range spec.Mounts {
		targets = append(targets, m.Target)
	}
	if diff := cmp.Diff(targets, []string{"/c"}); diff != "" {
		t.Errorf("mount targets (-got +want):\n%s", diff)
	}
	if len(spec.Rootfs.Lower) != 1 {
		t.Errorf("lowers: got %q, want the WORKDIR's layer", spec.Rootfs.Lower)
	}
}

// TestBuildFailure checks the error paths: a failing step ends the build
// with one error located at its line, cancels the stages still running,
// and leaves no image name, no cache record of the failing step and no
// scratch dir behind.
func TestBuildFailure(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		wantErr    string
		wantPanic  bool
		cancelled  int // RUNs that must see the build cancelled
		// wantRecords counts the steps that succeeded, each with its record.
		wantRecords int
		wantFailed  string // the failing step's Failed event's Err
	}{
		{
			name:        "a failing RUN cancels the other stage",
			dockerfile:  "FROM scratch AS slow\nRUN block\nFROM scratch AS bad\nRUN write x 1\nRUN exit 3\nFROM scratch\nCOPY --from=slow /x /x\nCOPY --from=bad /x /y\n",
			wantErr:     "Dockerfile:5: RUN: /bin/sh -c exit 3: exit code 3",
			cancelled:   1,
			wantRecords: 1,
			wantFailed:  "exit code 3",
		},
		{
			name:        "a missing COPY source",
			dockerfile:  "FROM scratch\nRUN write a 1\nCOPY missing /m\n",
			wantErr:     "Dockerfile:3: COPY",
			wantRecords: 1,
		},
		{
			// The layer's tar fails in the background (a ".wh." name is
			// refused), found once the next RUN ran: the error names its
			// step; the RUN before keeps its record, the one after has none.
			name:        "a layer that cannot be tarred",
			dockerfile:  "FROM scratch\nRUN write a 1\nRUN write .wh.x 1\nRUN write b 1\n",
			wantErr:     "Dockerfile:3: RUN: writing the layer:",
			wantRecords: 1,
		},
		{
			name:        "a panicking executor",
			dockerfile:  "FROM scratch\nRUN write a 1\nRUN panic\n",
			wantErr:     "panic: fake executor: injected defect",
			wantPanic:   true,
			wantRecords: 1,
			wantFailed:  "panic",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			fx := &fakeExec{}
			rec := &recorder{}
			_, err := fakeBuild(t, st, fx, tt.dockerfile, nil, Options{Tags: []string{"fail:test"}, Progress: rec})
			if err == nil {
				t.Fatal("Build: got no error, want one")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error: got %q, want it to contain %q", err, tt.wantErr)
			}
			var de *dockerfile.Error
			var pe *PanicError
			if tt.wantPanic && !errors.As(err, &pe) {
				t.Errorf("error: got %T, want a *PanicError", err)
			}
			if !tt.wantPanic && !errors.As(err, &de) {
				t.Errorf("error: got %T, want a located *dockerfile.Error", err)
			}
			if got := strings.Count(err.Error(), "Dockerfile:"); got > 1 {
				t.Errorf("error: got %q, want one location", err)
			}
			if fx.cancelled != tt.cancelled {
				t.Errorf("RUNs cancelled: got %d, want %d", fx.cancelled, tt.cancelled)
			}
			if _, _, err := st.Image("fail:test"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("image name: got %v, want store.ErrNotFound", err)
			}
			checkNothingHalfWritten(t, st, rec, tt.wantRecords)
			if tt.wantFailed != "" && !slices.ContainsFunc(rec.events, func(e progress.Event) bool {
				return e.Status == progress.Failed && e.Err == tt.wantFailed
			}) {
				t.Errorf("progress: no Failed event with Err %q in %+v", tt.wantFailed, rec.events)
			}
		})
	}
}

// checkNothingHalfWritten checks that the store holds the cache records of
// the steps that succeeded (wantRecords) and none of the failing one, that
// its scratch dir is empty, and that each step that started ended (Done or
// Failed).
func checkNothingHalfWritten(t *testing.T, st *store.Store, rec *recorder, wantRecords int) {
	t.Helper()
	recs, err := st.CacheRecords()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != wantRecords {
		t.Errorf("cache records: got %d, want %d (the steps that succeeded)", len(recs), wantRecords)
	}
	started := map[int]bool{}
	for _, e := range rec.events {
		switch e.Status {
		case progress.Started:
			started[e.ID] = true
		case progress.Done, progress.Failed:
			delete(started, e.ID)
		}
	}
	for id := range started {
		t.Errorf("step %d started and never ended", id)
	}
	ents, err := os.ReadDir(filepath.Join(st.Root(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("store tmp: got %d entries, want none left", len(ents))
	}
}
