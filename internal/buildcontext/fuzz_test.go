package buildcontext

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzTree makes the tree a fuzz input describes under dir: one entry a
// line, "name" a file (content: the name), "name/" a directory, "name ->
// target" a symlink. Names are cleaned into dir; the rest is kept as is.
func fuzzTree(t *testing.T, dir, spec string) {
	t.Helper()
	for _, line := range strings.Split(spec, "\n") {
		name, target, link := strings.Cut(line, " -> ")
		rel := CleanSource(name)
		if rel == "." || strings.ContainsRune(rel, 0) || len(rel) > 200 {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			continue // a parent is a file or a symlink already
		}
		switch {
		case link:
			_ = os.Symlink(target, p)
		case strings.HasSuffix(name, "/"):
			_ = os.Mkdir(p, 0o755)
		default:
			_ = os.WriteFile(p, []byte(rel), 0o644)
		}
	}
}

// FuzzSelectDigest checks that no context, .dockerignore and COPY source
// make Select or Digest panic, that every source selected is a clean path
// inside the context, and that the digest is the same when taken twice
// (the second time from the content hash cache) and by a fresh Context.
// The seed corpus (testdata/fuzz/FuzzSelectDigest) holds one-character
// names at the top (a crash once), symlinks climbing out, and exceptions.
func FuzzSelectDigest(f *testing.F) {
	f.Add("a\nb/\nb/c\n", "", ".")
	f.Fuzz(func(t *testing.T, tree, ignore, src string) {
		if len(tree) > 2000 || len(ignore) > 500 || len(src) > 200 || strings.ContainsRune(src, 0) {
			return
		}
		dir := t.TempDir()
		ctxDir := filepath.Join(dir, "ctx")
		if err := os.Mkdir(ctxDir, 0o755); err != nil {
			t.Fatal(err)
		}
		fuzzTree(t, ctxDir, tree)
		if err := os.WriteFile(filepath.Join(ctxDir, ".dockerignore"), []byte(ignore), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Open(ctxDir, "")
		if err != nil {
			return // bad patterns are the user's error
		}
		sel, err := c.Select([]string{src})
		if err != nil {
			return
		}
		for _, s := range sel {
			if s.Rel != "." && (path.IsAbs(s.Rel) || s.Rel != path.Clean(s.Rel) || s.Rel == ".." || strings.HasPrefix(s.Rel, "../")) {
				t.Fatalf("Select(%q): source %q is not a clean path inside the context", src, s.Rel)
			}
		}
		first, err1 := c.Digest(context.Background(), sel)
		second, err2 := c.Digest(context.Background(), sel)
		if (err1 == nil) != (err2 == nil) || first != second {
			t.Fatalf("Digest(%q) twice: %v (%v), then %v (%v)", src, first, err1, second, err2)
		}
		c2, err := Open(ctxDir, "")
		if err != nil {
			t.Fatal(err)
		}
		fresh, err3 := c2.Digest(context.Background(), sel)
		if (err1 == nil) != (err3 == nil) || first != fresh {
			t.Fatalf("Digest(%q): cached %v (%v), fresh %v (%v)", src, first, err1, fresh, err3)
		}
		if err1 != nil && errors.Is(err1, ErrNotFound) && !ContainsWildcards(src) {
			// a wildcard may match a dangling symlink, which COPY
			// refuses as not found too; a plain source was resolved
			t.Fatalf("Digest(%q) of a selected source: %v", src, err1)
		}
	})
}
