package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-build/strata/internal/dockerfile"
)

func mustParse(t *testing.T, src string) *dockerfile.Dockerfile {
	t.Helper()
	df, err := dockerfile.Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return df
}

func TestNeededStages(t *testing.T) {
	src := `ARG BASE=busybox
FROM ${BASE} AS a
RUN echo a
FROM busybox AS B
RUN false
FROM a AS c
COPY --from=0 /x /x
FROM scratch
COPY --from=c /x /x
COPY --from=alpine:3 /etc/os-release /
`
	tests := []struct {
		name   string
		target string
		args   map[string]string
		want   []int
		base0  string
	}{
		{"last stage skips the failing one", "", nil, []int{0, 2, 3}, "busybox"},
		{"target by name, any case", "b", nil, []int{1}, "busybox"},
		{"target by index", "2", nil, []int{0, 2}, "busybox"},
		{"build arg in FROM", "a", map[string]string{"BASE": "debian:bookworm"}, []int{0}, "debian:bookworm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(mustParse(t, src), Options{Target: tt.target, BuildArgs: tt.args})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(p.Needed, tt.want); diff != "" {
				t.Errorf("needed (-got +want):\n%s", diff)
			}
			if p.Stages[0].Base != tt.base0 {
				t.Errorf("stage 0 base = %q, want %q", p.Stages[0].Base, tt.base0)
			}
		})
	}
	p, _ := New(mustParse(t, src), Options{})
	if diff := cmp.Diff(p.Stages[3].Images, []string{"alpine:3"}); diff != "" {
		t.Errorf("images: %s", diff)
	}
	if p.Stages[2].BaseStage != 0 {
		t.Errorf("stage c base stage = %d, want 0", p.Stages[2].BaseStage)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, src, target, want string
	}{
		{"unknown target", "FROM busybox AS a\n", "nope", `--target "nope": no such stage`},
		{"from a later stage", "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n", "", `Dockerfile:2: COPY --from=b: stage "b" is defined after this one`},
		{"index out of range", "FROM busybox\nRUN true\nCOPY --from=5 /x /x\n", "", "Dockerfile:3: COPY --from=5: no stage with index 5"},
		{"self reference", "FROM busybox AS a\nCOPY --from=a /x /x\n", "", `refers to itself`},
		{"index not before", "FROM busybox\nCOPY --from=0 /x /x\n", "", "stage 0 is not before this one"},
		{"empty base", "ARG B\nFROM $B\n", "", "Dockerfile:2: FROM $B expands to an empty image name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(mustParse(t, tt.src), Options{Target: tt.target})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestDuplicateStageName: two stages of one name build, as in BuildKit
// (its DuplicateStageName lint rule warns); a later FROM, COPY --from or
// --target finds the last stage of that name.
func TestDuplicateStageName(t *testing.T) {
	src := "FROM busybox AS b\nRUN echo one\nFROM busybox AS B\nRUN echo two\nFROM b\nCOPY --from=b /two /two\n"
	for _, tt := range []struct {
		name, target string
		wantTarget   int
	}{
		{"last stage", "", 2},
		{"target by name", "b", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(mustParse(t, src), Options{Target: tt.target})
			if err != nil {
				t.Fatal(err)
			}
			if p.Target != tt.wantTarget {
				t.Errorf("target = %d, want %d", p.Target, tt.wantTarget)
			}
			if diff := cmp.Diff(p.Stages[2].Deps, []int{1}); diff != "" {
				t.Errorf("stage 2 deps (-got +want):\n%s", diff)
			}
			want := `[Warning] Dockerfile:3: duplicate stage name "b" (also stage 0 on line 1)`
			if len(p.Warnings) != 1 || !strings.HasPrefix(p.Warnings[0], want) {
				t.Errorf("warnings = %q, want one starting with %q", p.Warnings, want)
			}
		})
	}
}

func TestUnusedBuildArgs(t *testing.T) {
	p, err := New(mustParse(t, "ARG A\nFROM busybox\nARG B\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := p.UnusedBuildArgs(map[string]string{"A": "1", "B": "2", "C": "3", "http_proxy": "x"})
	if diff := cmp.Diff(got, []string{"C"}); diff != "" {
		t.Error(diff)
	}
}

// TestTriggerDeps checks that the --from stages of a stage's ONBUILD
// triggers are dependencies of the stages built FROM it, which run them.
func TestTriggerDeps(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []int
	}{
		{"COPY --from in a trigger", `FROM busybox AS tools
RUN echo t > /x
FROM busybox AS parent
ONBUILD COPY --from=tools /x /x
FROM busybox AS unused
FROM parent
RUN true
`, []int{0, 1, 3}},
		{"RUN --mount from= in a trigger", `FROM busybox AS tools
FROM busybox AS parent
ONBUILD RUN --mount=type=bind,from=tools,target=/t true
FROM parent
`, []int{0, 1, 2}},
		{"a trigger is not run in the stage declaring it", `FROM busybox AS tools
FROM busybox AS parent
ONBUILD COPY --from=tools /x /x
`, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(mustParse(t, tt.src), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(p.Needed, tt.want); diff != "" {
				t.Errorf("needed (-got +want):\n%s", diff)
			}
		})
	}
}
