package plan

import (
	"errors"
	"testing"

	"github.com/strata-build/strata/internal/dockerfile"
)

// FuzzPlan runs the Dockerfile → plan path on any input: Parse, then New
// with a target and a build arg. It checks that nothing panics, that every
// error is a located *dockerfile.Error, and that a plan is a valid graph:
// the target is needed and last, every dependency is an earlier stage that
// is needed too, and every stage has a base. The seed corpus is
// testdata/fuzz/FuzzPlan plus the cases below.
func FuzzPlan(f *testing.F) {
	f.Add("FROM busybox AS a\nRUN echo a\nFROM a AS b\nCOPY --from=0 / /x\nFROM busybox\nCOPY --from=b /x /y\n", "", "")
	f.Add("ARG BASE=busybox\nFROM $BASE AS x\nFROM x\nRUN --mount=type=bind,from=x,target=/m ls /m\n", "x", "BASE=scratch")
	f.Add("FROM scratch AS one\nFROM one AS two\nFROM two\n", "1", "")
	f.Add("FROM busybox AS same\nFROM same AS same\n", "", "")
	f.Add("FROM busybox\nCOPY --from=nowhere / /\n", "", "")
	f.Add("ARG X\nFROM ${X}\n", "", "")
	f.Fuzz(func(t *testing.T, src, target, buildArg string) {
		df, err := dockerfile.Parse("Dockerfile", []byte(src))
		if err != nil {
			return // FuzzParse in internal/dockerfile checks parse errors
		}
		args := map[string]string{}
		if k, v, ok := cutArg(buildArg); ok {
			args[k] = v
		}
		p, err := New(df, Options{Target: target, BuildArgs: args, Platform: "linux/amd64"})
		if err != nil {
			var de *dockerfile.Error
			if !errors.As(err, &de) || de.Msg == "" {
				t.Fatalf("New: error %T %q is not a located *dockerfile.Error", err, err)
			}
			return
		}
		if len(p.Stages) != len(df.Stages) {
			t.Fatalf("%d stages planned, %d parsed", len(p.Stages), len(df.Stages))
		}
		if p.Target < 0 || p.Target >= len(p.Stages) {
			t.Fatalf("target %d out of range", p.Target)
		}
		if len(p.Needed) == 0 || p.Needed[len(p.Needed)-1] != p.Target {
			t.Fatalf("needed %v does not end with the target %d", p.Needed, p.Target)
		}
		needed := map[int]bool{}
		for k, i := range p.Needed {
			if k > 0 && p.Needed[k-1] >= i {
				t.Fatalf("needed %v is not in ascending order", p.Needed)
			}
			needed[i] = true
		}
		for i, s := range p.Stages {
			if s.Index != i || s.Base == "" {
				t.Fatalf("stage %d: index %d, base %q", i, s.Index, s.Base)
			}
			if s.BaseStage >= i {
				t.Fatalf("stage %d starts from stage %d", i, s.BaseStage)
			}
			for _, d := range s.Deps {
				if d < 0 || d >= i {
					t.Fatalf("stage %d depends on stage %d", i, d)
				}
				if needed[i] && !needed[d] {
					t.Fatalf("stage %d is needed but its dependency %d is not", i, d)
				}
			}
		}
	})
}

// cutArg splits KEY=VALUE; an empty key is no arg.
func cutArg(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], i > 0
		}
	}
	return "", "", false
}
