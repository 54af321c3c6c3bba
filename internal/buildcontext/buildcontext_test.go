package buildcontext

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// writeTree makes files under dir: "name" → content; a name ending in "/"
// is a directory; content "-> target" makes a symlink.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// visible lists the paths of the tree as COPY sees them.
func visible(t *testing.T, tr *Tree) []string {
	t.Helper()
	var out []string
	var walk func(rel string)
	walk = func(rel string) {
		entries, err := os.ReadDir(tr.abs(rel))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			child := path.Join(rel, e.Name())
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			ok, err := tr.Present(child, fi)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				continue
			}
			if fi.IsDir() {
				out = append(out, child+"/")
				walk(child)
			} else {
				out = append(out, child)
			}
		}
	}
	walk(".")
	return out
}

// conformanceContext is the tree and .dockerignore of the dockerignore
// conformance case.
func conformanceContext(t *testing.T) string {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".dockerignore": `# comments are ignored
*.log
!keep.log
**/secret*
**/*.tmp
build
!build/keep
docs/**/*.md
!docs/a.md
node_modules
./leading-dot-slash.txt
`,
		"Dockerfile":                 "FROM busybox\nCOPY . /ctx/\n",
		"app/main.txt":               "main",
		"app/debug.log":              "debug",
		"keep.log":                   "keep",
		"debug.log":                  "root-debug",
		"app/nested/deep/secret.key": "secret",
		"app/nested/deep/ok.txt":     "ok",
		"build/out.bin":              "out",
		"build/keep/important.txt":   "important",
		"docs/a.md":                  "a",
		"docs/sub/b.md":              "b",
		"docs/sub/c.txt":             "c",
		"node_modules/x/index.js":    "x",
		"secret.env":                 "env",
		"root.tmp":                   "tmp",
		"sub/dir/x.tmp":              "tmp",
		"README.md":                  "readme",
		"leading-dot-slash.txt":      "dot",
	})
	return dir
}

func TestIgnore(t *testing.T) {
	dir := conformanceContext(t)
	c, err := Open(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	got := visible(t, c.Tree)
	// "*.log" is anchored at the root, so app/debug.log stays; secret files
	// go at any depth; build/ holds only keep/; sub/dir/ stays, empty.
	want := []string{
		".dockerignore",
		"Dockerfile",
		"README.md",
		"app/",
		"app/debug.log",
		"app/main.txt",
		"app/nested/",
		"app/nested/deep/",
		"app/nested/deep/ok.txt",
		"build/",
		"build/keep/",
		"build/keep/important.txt",
		"docs/",
		"docs/a.md",
		"docs/sub/",
		"docs/sub/c.txt",
		"keep.log",
		"sub/",
		"sub/dir/",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("visible tree (-got +want):\n%s", diff)
	}

	for _, tc := range []struct {
		rel  string
		want bool
	}{
		{"debug.log", true},
		{"keep.log", false},
		{"app/debug.log", false},
		{"build", true},
		{"build/out.bin", true},
		{"build/keep/important.txt", false},
		{"docs/sub/b.md", true},
		{"docs/a.md", false},
		{"/leading-dot-slash.txt", true},
		{"./node_modules/x/index.js", true},
		{"Dockerfile", false},
		{".dockerignore", false},
	} {
		t.Run(tc.rel, func(t *testing.T) {
			got, err := c.Excluded(tc.rel)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Excluded(%q) = %v, want %v", tc.rel, got, tc.want)
			}
		})
	}
}

func TestIgnoreFileChoice(t *testing.T) {
	for _, tc := range []struct {
		name       string
		files      map[string]string
		dockerfile string
		want       []string
	}{
		{"none", map[string]string{"Dockerfile": ""}, "", nil},
		{"context", map[string]string{".dockerignore": "a\n/b/\n!c\n# x\n\n", "Dockerfile": ""}, "Dockerfile", []string{"a", "b", "!c"}},
		{"dockerfile-specific wins", map[string]string{
			".dockerignore": "a", "sub/app.Dockerfile": "", "sub/app.Dockerfile.dockerignore": "z",
		}, "sub/app.Dockerfile", []string{"z"}},
		{"specific missing", map[string]string{".dockerignore": "a", "sub/app.Dockerfile": ""}, "sub/app.Dockerfile", []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			c, err := Open(dir, tc.dockerfile)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.Patterns(), tc.want); diff != "" {
				t.Errorf("patterns (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("absolute dockerfile", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		writeTree(t, other, map[string]string{"Dockerfile": "", "Dockerfile.dockerignore": "y"})
		c, err := Open(dir, filepath.Join(other, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.Patterns(), []string{"y"}); diff != "" {
			t.Errorf("patterns (-got +want):\n%s", diff)
		}
	})
}

func TestSelect(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".dockerignore":       "private.conf\n*.log\nhidden/\nlinks/excluded-link\n",
		"a.txt":               "a",
		"b.txt":               "b",
		"c.md":                "c",
		"private.conf":        "secret",
		"x.log":               "log",
		"dir/f1":              "1",
		"dir/sub/s1":          "s",
		"dor/sx":              "x",
		"dor/y":               "y",
		"hidden/h":            "h",
		"a[1].txt":            "literal",
		"links/to-a":          "-> ../a.txt",
		"links/abs-a":         "-> /a.txt",
		"links/outside":       "-> /etc/passwd",
		"links/escape":        "-> ../../../../a.txt",
		"links/to-dir":        "-> ../dir",
		"links/to-private":    "-> ../private.conf",
		"links/excluded-link": "-> ../a.txt",
		"links/loop":          "-> loop",
	})
	c, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	type notFound struct {
		path     string
		excluded bool
	}
	for _, tc := range []struct {
		name     string
		patterns []string
		want     []Source
		err      *notFound
	}{
		{"plain", []string{"a.txt"}, []Source{{Rel: "a.txt"}}, nil},
		{"leading slash and dot", []string{"/a.txt", "./b.txt"}, []Source{{Rel: "a.txt"}, {Rel: "b.txt"}}, nil},
		{"dot dot is the root", []string{"../a.txt", "../../dir/"}, []Source{{Rel: "a.txt"}, {Rel: "dir"}}, nil},
		{"root", []string{".", "/", "./"}, []Source{{Rel: "."}, {Rel: "."}, {Rel: "."}}, nil},
		{"trailing slash", []string{"dir/"}, []Source{{Rel: "dir"}}, nil},
		{"glob", []string{"*.txt"}, []Source{{Rel: "a.txt", Glob: true}, {Rel: "a[1].txt", Glob: true}, {Rel: "b.txt", Glob: true}}, nil},
		{"glob skips excluded", []string{"*.log", "p*"}, nil, nil},
		{"glob in dir part", []string{"d?r/s*"}, []Source{{Rel: "dir/sub", Glob: true}, {Rel: "dor/sx", Glob: true}}, nil},
		{"glob class", []string{"[ab].txt"}, []Source{{Rel: "a.txt", Glob: true}, {Rel: "b.txt", Glob: true}}, nil},
		// as BuildKit: an escaped wildcard is no wildcard, and the backslashes stay
		{"escaped wildcard", []string{`a\[1\].txt`}, nil, &notFound{`a\[1\].txt`, false}},
		{"glob matching nothing", []string{"nomatch*", "a.txt"}, []Source{{Rel: "a.txt"}}, nil},
		{"glob under missing dir", []string{"missing/*"}, nil, &notFound{"missing", false}},
		{"glob through symlinked dir", []string{"links/to-dir/f*"}, []Source{{Rel: "dir/f1", Glob: true}}, nil},
		{"missing", []string{"a.txt", "missing.txt"}, nil, &notFound{"missing.txt", false}},
		{"excluded", []string{"private.conf"}, nil, &notFound{"private.conf", true}},
		{"excluded dir", []string{"hidden/h"}, nil, &notFound{"hidden/h", true}},
		{"symlink source kept by name", []string{"links/to-a", "links/abs-a", "links/escape", "links/to-dir"},
			[]Source{{Rel: "links/to-a"}, {Rel: "links/abs-a"}, {Rel: "links/escape"}, {Rel: "links/to-dir"}}, nil},
		{"symlink out of the context resolves inside", []string{"links/outside"}, nil, &notFound{"links/outside", false}},
		{"symlink to excluded", []string{"links/to-private"}, nil, &notFound{"links/to-private", true}},
		{"excluded symlink", []string{"links/excluded-link"}, nil, &notFound{"links/excluded-link", true}},
		{"file as dir", []string{"a.txt/x"}, nil, &notFound{"a.txt/x", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Select(tc.patterns)
			if tc.err != nil {
				var nf *NotFoundError
				if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
					t.Fatalf("Select(%q) error = %v, want a NotFoundError", tc.patterns, err)
				}
				if nf.Path != tc.err.path || nf.Excluded != tc.err.excluded {
					t.Errorf("Select(%q) error = %+v, want %+v", tc.patterns, *nf, *tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select(%q): %v", tc.patterns, err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Select(%q) (-got +want):\n%s", tc.patterns, diff)
			}
		})
	}
	t.Run("loop", func(t *testing.T) {
		if _, err := c.Select([]string{"links/loop"}); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Select(links/loop) error = %v, want ELOOP", err)
		}
	})
	t.Run("messages", func(t *testing.T) {
		_, err := c.Select([]string{"missing.txt"})
		if got, want := err.Error(), `"missing.txt": not found in the build context`; got != want {
			t.Errorf("error = %q, want %q", got, want)
		}
		_, err = c.Select([]string{"private.conf"})
		if got := err.Error(); !strings.Contains(got, `"private.conf"`) || !strings.Contains(got, "excluded by .dockerignore") {
			t.Errorf("error = %q, want it to name the file and .dockerignore", got)
		}
	})
}

func TestDigest(t *testing.T) {
	noRacy(t)
	files := map[string]string{
		"app/a.txt":     "a",
		"app/sub/b":     "b",
		"app/link":      "-> a.txt",
		"app/skip.log":  "ignored",
		"other":         "o",
		".dockerignore": "**/*.log\n",
	}
	digest := digestOf
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		same   bool
	}{
		{"nothing", func(*testing.T, string) {}, true},
		{"mtime", func(t *testing.T, dir string) {
			old := time.Unix(1000, 0)
			for _, p := range []string{"app/a.txt", "app", "app/sub/b"} {
				if err := os.Chtimes(filepath.Join(dir, p), old, old); err != nil {
					t.Fatal(err)
				}
			}
		}, true},
		{"excluded file", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "app/skip.log"), []byte("changed"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"file outside the sources", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "other"), []byte("changed"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"content same size", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "app/sub/b")
			fi, _ := os.Stat(p)
			if err := os.WriteFile(p, []byte("c"), 0o644); err != nil {
				t.Fatal(err)
			}
			// keep size and mtime: only ctime tells the cache
			if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"mode", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "app/a.txt"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"symlink target", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "app/link")
			os.Remove(p)
			if err := os.Symlink("sub/b", p); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"new file", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "app/new"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"hard link", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "app/sub/b")
			os.Remove(p)
			if err := os.Link(filepath.Join(dir, "app/a.txt"), p); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, files)
			c, err := Open(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			before := digest(t, c, "app")
			if again := digest(t, c, "app"); again != before {
				t.Fatalf("digest not deterministic: %s then %s", before, again)
			}
			kept := keepHashes(t, c)
			tc.change(t, dir)
			after := digest(t, c, "app")
			if (after == before) != tc.same {
				t.Errorf("digest before %s after %s, want same=%v", before, after, tc.same)
			}
			// a fresh Context (no cache) agrees
			c2, err := Open(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			if fresh := digest(t, c2, "app"); fresh != after {
				t.Errorf("cached digest %s, fresh %s", after, fresh)
			}
			// a fresh Context given the hashes kept before the change
			// (another process's) agrees too
			c3, err := Open(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := c3.LoadHashes(kept); err != nil {
				t.Fatal(err)
			}
			if loaded := digest(t, c3, "app"); loaded != after {
				t.Errorf("digest with the kept hashes %s, fresh %s", loaded, after)
			}
		})
	}
	t.Run("sources matter", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, files)
		c, err := Open(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		if digest(t, c, "app", "other") == digest(t, c, "other", "app") {
			t.Error("source order does not change the digest")
		}
		if digest(t, c, "app/link") != digest(t, c, "app/link") || digest(t, c, "app/link") == digest(t, c, "app/a.txt") {
			t.Error("a symlink source must digest as its target under its own name")
		}
	})
	t.Run("fifo is not opened", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, files)
		if err := unix.Mkfifo(filepath.Join(dir, "app/fifo"), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Open(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan string)
		go func() { done <- digest(t, c, "app") }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Digest blocked on a fifo")
		}
	})
}

// TestDigestShortNames digests the context root and directories holding
// entries with one-character names, which once sliced past their end.
func TestDigestShortNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		src   string
	}{
		{"file a at the top", map[string]string{"a": "1", "Dockerfile": ""}, "."},
		{"dir x at the top", map[string]string{"x/y": "1"}, "."},
		{"one-char source dir", map[string]string{"d/a": "1", "d/bc": "2"}, "d"},
		{"nested one-char names", map[string]string{"d/e/f": "1"}, "d/e"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			c, err := Open(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			sel, err := c.Select([]string{tc.src})
			if err != nil {
				t.Fatal(err)
			}
			before, err := c.Digest(context.Background(), sel)
			if err != nil {
				t.Fatalf("Digest: %v", err)
			}
			for name := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("changed"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			after, err := c.Digest(context.Background(), sel)
			if err != nil {
				t.Fatalf("Digest after a change: %v", err)
			}
			if after == before {
				t.Errorf("digest %s did not change with the contents", after)
			}
		})
	}
}
