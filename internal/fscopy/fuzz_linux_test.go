package fscopy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-build/strata/internal/buildcontext"
)

// fuzzTree makes the tree a fuzz input describes under dir: one entry a
// line, "name" a file, "name/" a directory, "name -> target" a symlink.
func fuzzTree(dir, spec string) {
	for _, line := range strings.Split(spec, "\n") {
		name, target, link := strings.Cut(line, " -> ")
		rel := buildcontext.CleanSource(name)
		if rel == "." || strings.ContainsRune(rel, 0) || len(rel) > 200 {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if os.MkdirAll(filepath.Dir(p), 0o755) != nil {
			continue
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

// FuzzCopy runs a COPY of any source to any destination between trees a
// fuzz input describes: the build context, and the image's root, whose
// symlinks may point anywhere. Nothing may panic, and nothing outside the
// image's root may change: the context stays as it was, and the root's
// siblings, a canary among them, are untouched; and the root's own host
// path never appears inside it (a copy to "/" once made it). The seed
// corpus is
// testdata/fuzz/FuzzCopy.
func FuzzCopy(f *testing.F) {
	f.Add("a\nx/\nx/y\n", "up -> ../../..\nabs -> /\n", ".", "/")
	f.Fuzz(func(t *testing.T, ctxSpec, rootSpec, src, dest string) {
		if len(ctxSpec)+len(rootSpec) > 2000 || len(src) > 200 || len(dest) > 200 ||
			strings.ContainsRune(src, 0) || strings.ContainsRune(dest, 0) {
			return
		}
		outer := t.TempDir()
		ctxDir, root := filepath.Join(outer, "ctx"), filepath.Join(outer, "root")
		for _, d := range []string{ctxDir, root} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(outer, "canary"), []byte("canary"), 0o644); err != nil {
			t.Fatal(err)
		}
		fuzzTree(ctxDir, ctxSpec)
		fuzzTree(root, rootSpec)
		ctxBefore := listTree(t, ctxDir)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a := Action{SrcRoot: ctxDir, Dest: dest, Sources: []Source{{Rel: src, IsGlob: buildcontext.ContainsWildcards(src)}}}
		_ = Copy(ctx, root, a)
		if diff := cmp.Diff(listTree(t, ctxDir), ctxBefore); diff != "" {
			t.Errorf("the context changed (-got +want):\n%s", diff)
		}
		var names []string
		entries, err := os.ReadDir(outer)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if diff := cmp.Diff(names, []string{"canary", "ctx", "root"}); diff != "" {
			t.Errorf("beside the root (-got +want):\n%s", diff)
		}
		if _, err := os.Lstat(filepath.Join(root, outer)); err == nil {
			t.Errorf("the host path %s was made inside the root", outer)
		}
		if b, err := os.ReadFile(filepath.Join(outer, "canary")); err != nil || string(b) != "canary" {
			t.Errorf("the canary beside the root: %q, %v", b, err)
		}
	})
}
