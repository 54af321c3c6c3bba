package solver

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRerunRules is the cache-key table run through real builds: a first
// build fills the store's cache, a second one with one change shows which
// RUNs the change makes run again (the others come from the cache). It
// covers what TestStepKeys does not model: COPY --from's source, the build
// context's content, RUN --mount, the network and the security mode.
func TestRerunRules(t *testing.T) {
	const fromDF = "FROM scratch AS a\nRUN write f 1\nFROM scratch\nCOPY --from=a /f /f\nRUN write g 1\n"
	const ctxDF = "FROM scratch\nRUN write base 1\nCOPY app /app\nRUN write g 1\n"
	const plain = "FROM scratch\nRUN write base 1\nRUN write x 1\n"
	type build struct {
		dockerfile string
		ctx        map[string]string
		opts       Options
	}
	tests := []struct {
		name          string
		before, after build
		want          []string // the RUN scripts of the second build
	}{
		{name: "nothing", before: build{dockerfile: plain}, after: build{dockerfile: plain}},
		{name: "a LABEL", before: build{dockerfile: plain}, after: build{dockerfile: plain + "LABEL a=b\n"}},
		{
			name:   "COPY --from: the source stage's content",
			before: build{dockerfile: fromDF},
			after:  build{dockerfile: "FROM scratch AS a\nRUN write f 2\nFROM scratch\nCOPY --from=a /f /f\nRUN write g 1\n"},
			want:   []string{"write f 2", "write g 1"},
		},
		{
			name:   "COPY --from: a stage of the same content under another name",
			before: build{dockerfile: fromDF},
			after:  build{dockerfile: "FROM scratch AS b\nRUN write f 1\nFROM scratch\nCOPY --from=b /f /f\nRUN write g 1\n"},
		},
		{
			name:   "COPY: the context file's content",
			before: build{dockerfile: ctxDF, ctx: map[string]string{"app": "v1"}},
			after:  build{dockerfile: ctxDF, ctx: map[string]string{"app": "v2"}},
			want:   []string{"write g 1"},
		},
		{
			name:   "COPY: another context file changes",
			before: build{dockerfile: ctxDF, ctx: map[string]string{"app": "v1", "other": "1"}},
			after:  build{dockerfile: ctxDF, ctx: map[string]string{"app": "v1", "other": "2"}},
		},
		{
			name:   "RUN --mount=type=cache: its target",
			before: build{dockerfile: "FROM scratch\nRUN --mount=type=cache,target=/c write x 1\n"},
			after:  build{dockerfile: "FROM scratch\nRUN --mount=type=cache,target=/d write x 1\n"},
			want:   []string{"write x 1"},
		},
		{
			name:   "RUN --mount=type=bind from a stage: the stage's content",
			before: build{dockerfile: "FROM scratch AS a\nRUN write f 1\nFROM scratch\nRUN --mount=type=bind,from=a,target=/a write x 1\n"},
			after:  build{dockerfile: "FROM scratch AS a\nRUN write f 2\nFROM scratch\nRUN --mount=type=bind,from=a,target=/a write x 1\n"},
			want:   []string{"write f 2", "write x 1"},
		},
		{
			name:   "RUN --network",
			before: build{dockerfile: plain},
			after:  build{dockerfile: "FROM scratch\nRUN write base 1\nRUN --network=none write x 1\n"},
			want:   []string{"write x 1"},
		},
		{
			name:   "the build's --network",
			before: build{dockerfile: plain},
			after:  build{dockerfile: plain, opts: Options{Network: "none"}},
			want:   []string{"write base 1", "write x 1"},
		},
		{
			name:   "RUN --security=insecure",
			before: build{dockerfile: plain},
			after: build{dockerfile: "FROM scratch\nRUN write base 1\nRUN --security=insecure write x 1\n",
				opts: Options{Allow: []string{EntitlementSecurityInsecure}}},
			want: []string{"write x 1"},
		},
		{
			name:   "--no-cache",
			before: build{dockerfile: plain},
			after:  build{dockerfile: plain, opts: Options{NoCache: true}},
			want:   []string{"write base 1", "write x 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			if _, err := fakeBuild(t, st, &fakeExec{}, tt.before.dockerfile, tt.before.ctx, tt.before.opts); err != nil {
				t.Fatalf("first build: %v", err)
			}
			fx := &fakeExec{}
			res, err := fakeBuild(t, st, fx, tt.after.dockerfile, tt.after.ctx, tt.after.opts)
			if err != nil {
				t.Fatalf("second build: %v", err)
			}
			got := fx.scripts()
			slices.Sort(got)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("RUNs run again (-got +want):\n%s", diff)
			}
			if res.Cached == 0 && len(tt.want) == 0 {
				t.Errorf("Cached: got 0, want the steps from the cache counted")
			}
		})
	}
}
