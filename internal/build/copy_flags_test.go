package build

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-build/strata/internal/fscopy"
)

// TestCopyDestDotIsADirectory: a COPY destination "." (or "") names the
// working directory as a directory, as BuildKit's dispatchCopy adds the
// trailing slash; without it a COPY --link (whose root is empty) or a
// working directory missing from the image made a file of it.
func TestCopyDestDotIsADirectory(t *testing.T) {
	for _, tc := range []struct{ wd, dest, want string }{
		{"/app", ".", "/app/"},
		{"/app", "", "/app/"},
		{"/app", "./", "/app/"},
		{"/app", "x/.", "/app/x/"},
		{"/app", "x", "/app/x"},
		{"/app", "/abs", "/abs"},
		{"", ".", "/"},
		{"/", ".", "/"},
	} {
		t.Run(tc.wd+" "+tc.dest, func(t *testing.T) {
			sr := &stageRun{s: &state{}}
			sr.s.cfg.Config.WorkingDir = tc.wd
			if got := sr.resolvePath(copyDest(tc.dest)); got != tc.want {
				t.Errorf("resolvePath(%q) in %q = %q, want %q", tc.dest, tc.wd, got, tc.want)
			}
		})
	}
}

func TestCopyFlagsSources(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flags   copyFlags
		srcs    []string
		want    []fscopy.Source
		wantDig []string
	}{
		{"plain", copyFlags{}, []string{"./a/b", "*.txt"},
			[]fscopy.Source{{Rel: "a/b"}, {Rel: "*.txt", IsGlob: true}}, []string{"./a/b", "*.txt"}},
		{"parents", copyFlags{parents: true}, []string{"./x/a.txt", "./x/./y/*.txt", "/abs/./b", "src/**/*.go"},
			[]fscopy.Source{{Rel: "x/a.txt", Pivot: "."}, {Rel: "y/*.txt", Pivot: "x", IsGlob: true},
				{Rel: "b", Pivot: "abs"}, {Rel: "src/**/*.go", Pivot: ".", IsGlob: true}},
			[]string{"x/a.txt", "x/y", "abs/b", "src"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.flags.sources(tc.srcs), tc.want); diff != "" {
				t.Errorf("sources (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(tc.flags.digestSources(tc.srcs), tc.wantDig); diff != "" {
				t.Errorf("digestSources (-got +want):\n%s", diff)
			}
		})
	}
}
