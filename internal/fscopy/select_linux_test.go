package fscopy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// selectContext is a context laid out as BuildKit's testExcludedFilesOnCopy
// and the COPY --parents examples of its reference.md.
var selectContext = map[string]spec{
	"dir1/file-101.png":  F(0o600, "2"),
	"dir1/file-102.txt":  F(0o600, "3"),
	"dir1/file-103.jpeg": F(0o600, "4"),
	"dir2/file-201.pdf":  F(0o600, "6"),
	"dir2/file-202.jpeg": F(0o600, "7"),
	"dir3/file-301.mp3":  F(0o600, "9"),
	"dir3/file-302.mpeg": F(0o600, "10"),
	"x/a.txt":            F(0o644, "xa"),
	"x/y/a.txt":          F(0o644, "xya"),
	"x/y/b.txt":          F(0o644, "xyb"),
	"x/y/c.md":           F(0o644, "xyc"),
	"y/a.txt":            F(0o644, "ya"),
	"src/a.txt":          F(0o644, "sa"),
	"src/x/b.txt":        F(0o644, "sxb"),
	"src/x/y/c.txt":      F(0o644, "sxyc"),
	"src/x/y/d.go":       F(0o644, "sxyd"),
	"tool.sh":            F(0o640, "#!/bin/sh"),
	"conf/":              D(0o750),
	"conf/c":             F(0o600, "c"),
}

// runCopy copies each action from a fresh selectContext into an empty
// root and returns the tree, or the error of the first failing action.
func runCopy(t *testing.T, ignore []string, actions []Action) (map[string]string, error) {
	t.Helper()
	ctxDir := t.TempDir()
	makeTree(t, ctxDir, selectContext)
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		a.SrcRoot, a.Exclude = ctxDir, ignore
		if err := Copy(context.Background(), root, a); err != nil {
			return nil, err
		}
	}
	return listTree(t, root), nil
}

func TestCopyExclude(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ignore  []string
		actions []Action
		want    map[string]string
	}{
		{
			// testExcludedFilesOnCopy's builder1: patterns relative to "."
			name: "context root, two patterns",
			actions: []Action{{Sources: []Source{{Rel: "dir1"}, {Rel: "dir2"}}, Dest: "/1/",
				ExcludePatterns: []string{"*.png", "*.jpeg"}}},
			want: map[string]string{"1": "d 0755 0:0", "1/file-102.txt": "f 0600 0:0 3", "1/file-201.pdf": "f 0600 0:0 6"},
		},
		{
			// builder3: ADD --exclude=*.mp3 dir3/ /3/
			name:    "patterns are relative to the source directory",
			actions: []Action{{Sources: []Source{{Rel: "dir3/"}}, Dest: "/3/", ExcludePatterns: []string{"*.mp3"}}},
			want:    map[string]string{"3": "d 0755 0:0", "3/file-302.mpeg": "f 0600 0:0 10"},
		},
		{
			// builder5: ADD --exclude=*.mp* ... dir* /5 keeps only the txt
			name: "wildcard source, each match its own root",
			actions: []Action{{Sources: []Source{{Rel: "dir*", IsGlob: true}}, Dest: "/5/",
				ExcludePatterns: []string{"*.mp*", "*.jpeg", "*.png", "*.pdf"}}},
			want: map[string]string{"5": "d 0755 0:0", "5/file-102.txt": "f 0600 0:0 3"},
		},
		{
			// builder6: everything excluded leaves an empty destination
			name:    "exclude everything",
			actions: []Action{{Sources: []Source{{Rel: "dir*", IsGlob: true}}, Dest: "/6/", ExcludePatterns: []string{"*"}}},
			want:    map[string]string{"6": "d 0755 0:0"},
		},
		{
			name:    "an exception re-includes; a directory pattern drops it whole",
			actions: []Action{{Sources: []Source{{Rel: "src"}}, Dest: "/s/", ExcludePatterns: []string{"**/*.txt", "!x/y/c.txt", "nothing"}}},
			want: map[string]string{"s": "d 0755 0:0", "s/x": "d 0755 0:0", "s/x/y": "d 0755 0:0",
				"s/x/y/c.txt": "f 0644 0:0 sxyc", "s/x/y/d.go": "f 0644 0:0 sxyd"},
		},
		{
			name:    "a file source is never excluded by its own name",
			actions: []Action{{Sources: []Source{{Rel: "tool.sh"}}, Dest: "/t/", ExcludePatterns: []string{"*.sh"}}},
			want:    map[string]string{"t": "d 0755 0:0", "t/tool.sh": "f 0640 0:0 #!/bin/sh"},
		},
		{
			name:    ".dockerignore and --exclude both apply",
			ignore:  []string{"dir1/file-102.txt"},
			actions: []Action{{Sources: []Source{{Rel: "dir1"}}, Dest: "/i/", ExcludePatterns: []string{"*.png"}}},
			want:    map[string]string{"i": "d 0755 0:0", "i/file-103.jpeg": "f 0600 0:0 4"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runCopy(t, tc.ignore, tc.actions)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("tree (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCopyParents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		actions []Action
		want    map[string]string
		wantErr string
	}{
		{
			// reference.md: COPY --parents ./x/a.txt ./y/a.txt /parents/
			name:    "parents kept",
			actions: []Action{{Parents: true, Sources: []Source{{Rel: "x/a.txt", Pivot: "."}, {Rel: "y/a.txt", Pivot: "."}}, Dest: "/parents/"}},
			want: map[string]string{"parents": "d 0755 0:0", "parents/x": "d 0755 0:0", "parents/x/a.txt": "f 0644 0:0 xa",
				"parents/y": "d 0755 0:0", "parents/y/a.txt": "f 0644 0:0 ya"},
		},
		{
			// reference.md: COPY --parents ./x/./y/*.txt /parents/
			name:    "a ./ pivot and a glob",
			actions: []Action{{Parents: true, Sources: []Source{{Rel: "y/*.txt", Pivot: "x", IsGlob: true}}, Dest: "/parents/"}},
			want: map[string]string{"parents": "d 0755 0:0", "parents/y": "d 0755 0:0",
				"parents/y/a.txt": "f 0644 0:0 xya", "parents/y/b.txt": "f 0644 0:0 xyb"},
		},
		{
			// reference.md: COPY --parents ./src/**/*.txt /parents/
			name:    "** matches any depth, zero included",
			actions: []Action{{Parents: true, Sources: []Source{{Rel: "src/**/*.txt", Pivot: ".", IsGlob: true}}, Dest: "/parents/"}},
			want: map[string]string{"parents": "d 0755 0:0", "parents/src": "d 0755 0:0",
				"parents/src/a.txt": "f 0644 0:0 sa", "parents/src/x": "d 0755 0:0", "parents/src/x/b.txt": "f 0644 0:0 sxb",
				"parents/src/x/y": "d 0755 0:0", "parents/src/x/y/c.txt": "f 0644 0:0 sxyc"},
		},
		{
			name:    "a directory keeps its parents and its mode",
			actions: []Action{{Parents: true, Sources: []Source{{Rel: "conf", Pivot: "."}}, Dest: "/etc/app"}},
			want: map[string]string{"etc": "d 0755 0:0", "etc/app": "d 0755 0:0", "etc/app/conf": "d 0750 0:0",
				"etc/app/conf/c": "f 0600 0:0 c"},
		},
		{
			name:    "with --exclude",
			actions: []Action{{Parents: true, Sources: []Source{{Rel: "x", Pivot: "."}}, Dest: "/p/", ExcludePatterns: []string{"**/*.md"}}},
			want: map[string]string{"p": "d 0755 0:0", "p/x": "d 0755 0:0", "p/x/a.txt": "f 0644 0:0 xa",
				"p/x/y": "d 0755 0:0", "p/x/y/a.txt": "f 0644 0:0 xya", "p/x/y/b.txt": "f 0644 0:0 xyb"},
		},
		{
			name:    "a missing literal source is an error",
			actions: []Action{{Parents: true, Sources: []Source{{Rel: "x/nope.txt", Pivot: "."}}, Dest: "/p/"}},
			wantErr: "nope.txt",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runCopy(t, nil, tc.actions)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("tree (-got +want):\n%s", diff)
			}
		})
	}
}

// TestCopySymbolicChmod changes each entry's own mode; the destination
// directory a directory's contents go into is made 0755, as with an octal
// --chmod.
func TestCopySymbolicChmod(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want map[string]string
	}{
		{"u+x", map[string]string{"c": "d 0755 0:0", "c/conf": "d 0755 0:0", "c/conf/c": "f 0700 0:0 c", "c/tool.sh": "f 0740 0:0 #!/bin/sh"}},
		{"a=r", map[string]string{"c": "d 0755 0:0", "c/conf": "d 0755 0:0", "c/conf/c": "f 0444 0:0 c", "c/tool.sh": "f 0444 0:0 #!/bin/sh"}},
		{"go+rX", map[string]string{"c": "d 0755 0:0", "c/conf": "d 0755 0:0", "c/conf/c": "f 0644 0:0 c", "c/tool.sh": "f 0644 0:0 #!/bin/sh"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			m, err := ParseMode(tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			got, err := runCopy(t, nil, []Action{{Sources: []Source{{Rel: "conf"}}, Dest: "/c/conf", SymbolicChmod: &m},
				{Sources: []Source{{Rel: "tool.sh"}}, Dest: "/c/", SymbolicChmod: &m}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("tree (-got +want):\n%s", diff)
			}
		})
	}
}
