package slim

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeTree makes a root: names ending in "/" are directories, "->" values
// symlinks, the rest files with that content.
func writeTree(t *testing.T, entries map[string]string) string {
	t.Helper()
	root := t.TempDir()
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(root, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		v := entries[n]
		var err error
		switch {
		case n[len(n)-1] == '/':
			err = os.MkdirAll(p, 0o755)
		case len(v) > 3 && v[:3] == "-> ":
			err = os.Symlink(v[3:], p)
		default:
			err = os.WriteFile(p, []byte(v), 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestKeepAndPrune checks what stays of a tree: symlink chains through
// directories and files, a script's interpreter, a tree kept whole, and
// nothing else.
func TestKeepAndPrune(t *testing.T) {
	root := writeTree(t, map[string]string{
		"bin":                  "-> usr/bin",
		"lib":                  "-> /usr/lib",
		"usr/bin/app":          "#!/usr/bin/interp -x\necho\n",
		"usr/bin/interp":       "not elf",
		"usr/bin/other":        "removed",
		"usr/lib/libx.so":      "-> libx.so.1",
		"usr/lib/libx.so.1":    "-> ../lib/real/libx",
		"usr/lib/real/libx":    "lib",
		"usr/share/doc/README": "big",
		"data/keep/a":          "a",
		"data/keep/sub/b":      "b",
		"data/drop":            "d",
		"empty/":               "",
	})
	k := newKeeper(root)
	for _, p := range []string{"/bin/app", "/lib/libx.so", "/nonexistent/x", "/bin/../usr/bin/missing"} {
		if err := k.add(p); err != nil {
			t.Fatalf("add %s: %v", p, err)
		}
	}
	if err := k.addTree("/data/keep"); err != nil {
		t.Fatal(err)
	}
	res, err := k.prune(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/bin", "/data", "/data/keep", "/data/keep/a", "/data/keep/sub", "/data/keep/sub/b", "/lib",
		"/usr", "/usr/bin", "/usr/bin/app", "/usr/bin/interp", "/usr/lib", "/usr/lib/libx.so", "/usr/lib/libx.so.1",
		"/usr/lib/real", "/usr/lib/real/libx",
	}
	if d := cmp.Diff(res.kept, want); d != "" {
		t.Errorf("kept (-got +want):\n%s", d)
	}
	var left []string
	filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err == nil && rel != "." {
			left = append(left, "/"+rel)
		}
		return err
	})
	if d := cmp.Diff(left, want); d != "" {
		t.Errorf("left in the root (-got +want):\n%s", d)
	}
	if got, wantFiles := res.after.Files, 9; got != wantFiles {
		t.Errorf("files after: got %d, want %d", got, wantFiles)
	}
	if got := res.before.Files; got != 12 {
		t.Errorf("files before: got %d, want 12", got)
	}
}
