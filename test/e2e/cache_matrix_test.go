package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cmxDockerfile has one stage per input the cache must track, so that each
// change invalidates a small, known set of steps: the steps of its stage from
// the changed one on, the steps that copy that stage's output, and the final
// RUN that bind-mounts every stage.
const cmxDockerfile = `FROM busybox AS files
COPY a.txt /a.txt
RUN cat /a.txt > /a.out

FROM busybox AS uses
RUN echo static > /static
COPY --from=files /a.out /x
RUN cat /x > /y

FROM busybox AS args
ARG V
RUN echo "$V" > /v.out

FROM busybox AS sec
RUN --mount=type=secret,id=s if test -f /run/secrets/s; then echo yes; else echo no; fi > /s.out

FROM base2 AS other
RUN echo b2 > /b2.out

FROM busybox AS meta
ARG GIT_SHA
LABEL rev=$GIT_SHA
COPY b.txt /b
RUN cat /b > /b.out

FROM busybox
LABEL note=one
COPY b.txt /final.b
RUN echo final > /final
RUN --mount=type=bind,from=uses,target=/m1 --mount=type=bind,from=args,target=/m2 --mount=type=bind,from=sec,target=/m3 --mount=type=bind,from=other,target=/m4 --mount=type=bind,from=meta,target=/m5 cat /m1/y /m2/v.out /m3/s.out /m4/b2.out /m5/b.out > /all
`

// cmxSteps names every RUN and COPY step of cmxDockerfile by a unique part.
var cmxSteps = []string{
	"COPY a.txt",
	"RUN cat /a.txt",
	"RUN echo static",
	"COPY --from=files",
	"RUN cat /x",
	`RUN echo "$V"`,
	"RUN --mount=type=secret",
	"RUN echo b2",
	"COPY b.txt /b",
	"RUN cat /b",
	"COPY b.txt /final.b",
	"RUN echo final",
	"RUN --mount=type=bind",
}

// TestCacheMatrix proves the cache exact: each change below reruns exactly
// the steps that depend on it, and every other step is CACHED. A context
// file's owner is not an input: COPY without --chown writes root:root (as
// BuildKit does), so the owner never reaches a layer and must not invalidate
// anything. A secret's presence is an input of the RUNs that mount it; its
// content is not. Metadata (LABEL) is no input of any step, and an ARG is
// one only of the RUNs that see it and of the words that expand it, as in
// BuildKit: the CI habit of "ARG GIT_SHA" then "LABEL rev=$GIT_SHA" keeps
// the COPY after it cached.
func TestCacheMatrix(t *testing.T) {
	s := newStrata(t)
	s.must("tag", "busybox:latest", "base2:latest")
	ctx := bldContext(t, cmxDockerfile, map[string]string{"a.txt": "one\n", "b.txt": "bee\n"})
	secret := filepath.Join(t.TempDir(), "secret")
	cacheWrite(t, secret, "hunter2\n", 0o600)
	buildArgs := []string{"--build-arg", "V=1"}
	shaArgs := []string{"--build-arg", "GIT_SHA=1"}
	var secretArgs []string
	build := func() string {
		t.Helper()
		args := append(append([]string{"build", "--progress=plain", "-t", "matrix"}, buildArgs...), shaArgs...)
		return s.must(append(append(args, secretArgs...), ctx)...).stderr
	}
	build()

	rerun := func(steps ...string) []string { return steps }
	setNote := func(note string) func(t *testing.T) {
		return func(t *testing.T) {
			df := strings.Replace(cmxDockerfile, "LABEL note=one", "LABEL note="+note, 1)
			cacheWrite(t, filepath.Join(ctx, "Dockerfile"), df, 0o644)
		}
	}
	a := filepath.Join(ctx, "a.txt")
	tests := []struct {
		name   string
		change func(t *testing.T)
		want   []string // steps run; every other one is CACHED
	}{
		{"nothing", func(*testing.T) {}, nil},
		{"file content", func(t *testing.T) { cacheWrite(t, a, "two\n", 0o644) },
			rerun("COPY a.txt", "RUN cat /a.txt", "COPY --from=files", "RUN cat /x", "RUN --mount=type=bind")},
		{"file mode", func(t *testing.T) { cacheWrite(t, a, "two\n", 0o755) },
			rerun("COPY a.txt", "RUN cat /a.txt", "COPY --from=files", "RUN cat /x", "RUN --mount=type=bind")},
		{"file owner (not in the layer)", func(t *testing.T) {
			if err := os.Chown(a, 1234, 4321); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"ARG value", func(*testing.T) { buildArgs = []string{"--build-arg", "V=2"} },
			rerun(`RUN echo "$V"`, "RUN --mount=type=bind")},
		{"ARG value back (cached again)", func(*testing.T) { buildArgs = []string{"--build-arg", "V=1"} }, nil},
		{"base image digest", func(t *testing.T) {
			other := bldContext(t, "FROM busybox\nLABEL version=2\n", nil)
			s.must("build", "-q", "-t", "base2:latest", other)
		}, rerun("RUN echo b2", "RUN --mount=type=bind")},
		{"secret given", func(*testing.T) { secretArgs = []string{"--secret", "id=s,src=" + secret} },
			rerun("RUN --mount=type=secret", "RUN --mount=type=bind")},
		{"secret content (not an input)", func(t *testing.T) { cacheWrite(t, secret, "other\n", 0o600) }, nil},
		{"secret taken away", func(*testing.T) { secretArgs = nil }, nil}, // back to the first state: cached
		{"--from stage output", func(t *testing.T) { cacheWrite(t, a, "three\n", 0o755) },
			rerun("COPY a.txt", "RUN cat /a.txt", "COPY --from=files", "RUN cat /x", "RUN --mount=type=bind")},
		{"ARG then LABEL (GIT_SHA value)", func(*testing.T) { shaArgs = []string{"--build-arg", "GIT_SHA=2"} },
			rerun("RUN cat /b", "RUN --mount=type=bind")},
		{"LABEL value", setNote("two"), nil},
		{"LABEL value back", setNote("one"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change(t)
			out := build()
			steps := bldParsePlain(t, out)
			var got, table []string
			for _, name := range cmxSteps {
				st := bldFind(t, steps, name).status
				if st != "CACHED" {
					got = append(got, name)
				}
				table = append(table, fmt.Sprintf("  %-8s %s", st, name))
			}
			t.Logf("%s:\n%s", tt.name, strings.Join(table, "\n"))
			sort.Strings(got)
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("steps run (-got +want):\n%s\nprogress:\n%s", diff, out)
			}
			// The config is this build's, whatever build made the cached layers.
			df, err := os.ReadFile(filepath.Join(ctx, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			var ii []struct {
				Config struct{ Labels map[string]string }
			}
			if err := json.Unmarshal([]byte(s.must("inspect", "matrix").stdout), &ii); err != nil || len(ii) != 1 {
				t.Fatalf("inspect matrix: %v %+v", err, ii)
			}
			if got, want := "LABEL note="+ii[0].Config.Labels["note"], string(df); !strings.Contains(want, got+"\n") {
				t.Errorf("label %q, but the Dockerfile says:\n%s", got, want)
			}
		})
	}
	if got := s.must("run", "--rm", "matrix", "cat", "/all").stdout; got != "three\n1\nno\nb2\nbee\n" {
		t.Errorf("/all = %q after the last change", got)
	}
}
