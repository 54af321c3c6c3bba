package buildcontext

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// ErrNotFound is matched (errors.Is) by every error for a source that does
// not exist in a tree.
var ErrNotFound = errors.New("not found in the build context")

// NotFoundError is a source that does not exist in a tree; Excluded tells
// that it exists on disk but .dockerignore leaves it out.
type NotFoundError struct {
	// Path is the source as cleaned, relative to the tree's root.
	Path string
	// Excluded is true when the path exists but is excluded.
	Excluded bool
}

// Error returns the user-facing message.
func (e *NotFoundError) Error() string {
	if e.Excluded {
		return fmt.Sprintf("%q: not found in the build context: it is excluded by .dockerignore", e.Path)
	}
	return fmt.Sprintf("%q: %s", e.Path, ErrNotFound)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// maxLinks bounds the symlinks followed while resolving one path (as Linux's
// MAXSYMLINKS in spirit; securejoin uses 255 too).
const maxLinks = 255

// Tree is a directory as COPY sees it: its files minus the excluded ones.
// It is used for the build context and, with no patterns, for the root of a
// stage copied from with COPY --from. A Tree is safe for concurrent use.
type Tree struct {
	root string
	m    *matcher
}

// NewTree returns the tree at root (made absolute) with the exclude patterns
// (.dockerignore syntax, as ReadIgnoreFile returns them) applied.
func NewTree(root string, exclude []string) (*Tree, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening tree %s: %w", root, err)
	}
	m, err := newMatcher(exclude)
	if err != nil {
		return nil, err
	}
	return &Tree{root: abs, m: m}, nil
}

// Root returns the tree's absolute root directory.
func (t *Tree) Root() string { return t.root }

// CleanSource turns a source as written in a Dockerfile into a clean path
// relative to the root, as BuildKit does: leading "/" and "./" dropped, ".."
// never climbing above the root, a trailing "/" dropped; the root is ".".
func CleanSource(src string) string {
	p := path.Clean("/" + filepath.ToSlash(src))
	if p == "/" {
		return "."
	}
	return p[1:]
}

// Excluded reports whether the slash-separated path rel (relative to the
// root) is excluded by the patterns. A directory that is excluded may still
// exist in the tree when an exception re-includes something below it (see
// Present).
func (t *Tree) Excluded(rel string) (bool, error) {
	return t.m.excluded(CleanSource(rel))
}

// Present reports whether rel, whose Lstat result is fi, exists in the tree:
// it is not excluded, or it is a directory holding a path that is.
func (t *Tree) Present(rel string, fi fs.FileInfo) (bool, error) {
	ex, err := t.m.excluded(rel)
	if err != nil || !ex {
		return !ex, err
	}
	if !fi.IsDir() || !t.m.mayReinclude(rel) {
		return false, nil
	}
	entries, err := os.ReadDir(filepath.Join(t.root, filepath.FromSlash(rel)))
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", rel, err)
	}
	for _, e := range entries {
		cfi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", rel, err)
		}
		ok, err := t.Present(path.Join(rel, e.Name()), cfi)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// Resolve returns the real path (relative to the root) of the source rel,
// following every symlink on the way, the last component's included, inside
// the root: an absolute link target starts again at the root and ".." stops
// there. A path that does not exist in the tree, or that goes through an
// excluded symlink, is a *NotFoundError.
func (t *Tree) Resolve(rel string) (string, error) {
	rel = CleanSource(rel)
	pending := splitPath(rel)
	cur := "."
	links := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(t.root, filepath.FromSlash(next)))
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return "", t.notFound(rel)
		}
		if err != nil {
			return "", fmt.Errorf("resolving %s: %w", rel, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if ex, err := t.m.excluded(next); err != nil || ex {
				return "", errors.Join(err, t.notFound(rel))
			}
			if links++; links > maxLinks {
				return "", fmt.Errorf("resolving %s: %w", rel, syscall.ELOOP)
			}
			target, err := os.Readlink(filepath.Join(t.root, filepath.FromSlash(next)))
			if err != nil {
				return "", fmt.Errorf("resolving %s: %w", rel, err)
			}
			target = filepath.ToSlash(target)
			if strings.HasPrefix(target, "/") {
				cur = "."
			}
			pending = append(splitPath(target), pending...)
			continue
		}
		if !fi.IsDir() && len(pending) > 0 && slices.ContainsFunc(pending, func(s string) bool { return s != "" && s != "." }) {
			return "", t.notFound(rel)
		}
		cur = next
	}
	if cur == "." {
		return ".", nil
	}
	fi, err := os.Lstat(t.abs(cur))
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", rel, err)
	}
	ok, err := t.Present(cur, fi)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", t.notFound(rel)
	}
	return cur, nil
}

// notFound builds the error for rel, telling whether it exists but is
// excluded.
func (t *Tree) notFound(rel string) error {
	e := &NotFoundError{Path: rel}
	if _, err := os.Lstat(filepath.Join(t.root, filepath.FromSlash(rel))); err == nil {
		if ex, _ := t.m.excluded(rel); ex {
			e.Excluded = true
		}
	}
	if !e.Excluded && t.m != nil {
		// rel may go through a symlink that is excluded, or to an
		// excluded target: say so when the unfiltered tree has it.
		if real, err := (&Tree{root: t.root}).Resolve(rel); err == nil {
			if ex, _ := t.m.excluded(real); ex {
				e.Excluded = true
			}
		}
	}
	return e
}

// splitPath splits a slash path into components.
func splitPath(p string) []string {
	return strings.Split(p, "/")
}

// ContainsWildcards reports whether a source has wildcard characters (*, ?
// or [) that are not escaped with a backslash.
func ContainsWildcards(src string) bool {
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// Glob expands the wildcard source pattern in the tree as BuildKit does:
// the components before the first one with a wildcard are resolved (symlinks
// followed) and must exist; the rest is matched with path.Match one
// component at a time, without following symlinks, and a matched directory
// is not searched further. The matches are real paths relative to the root,
// in lexical order; none is not an error. A pattern without wildcards is
// resolved as one path.
func (t *Tree) Glob(pattern string) ([]string, error) {
	pattern = CleanSource(pattern)
	comps := splitPath(pattern)
	i := slices.IndexFunc(comps, ContainsWildcards)
	if i < 0 {
		p, err := t.Resolve(pattern)
		if err != nil {
			return nil, err
		}
		return []string{p}, nil
	}
	for _, c := range comps[i:] {
		if _, err := path.Match(c, ""); err != nil {
			return nil, fmt.Errorf("expanding %q: %w", pattern, err)
		}
	}
	base := "."
	if i > 0 {
		var err error
		base, err = t.Resolve(path.Join(comps[:i]...))
		if err != nil {
			return nil, err
		}
	}
	var out []string
	if err := t.glob(base, comps[i:], &out); err != nil {
		return nil, fmt.Errorf("expanding %q: %w", pattern, err)
	}
	return out, nil
}

// glob appends to out the entries under dir matching the components pat.
func (t *Tree) glob(dir string, pat []string, out *[]string) error {
	entries, err := os.ReadDir(filepath.Join(t.root, filepath.FromSlash(dir)))
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return err
	}
	for _, e := range entries { // sorted by name
		if ok, _ := path.Match(pat[0], e.Name()); !ok {
			continue
		}
		rel := path.Join(dir, e.Name())
		fi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		present, err := t.Present(rel, fi)
		if err != nil {
			return err
		}
		if !present {
			continue
		}
		if len(pat) == 1 {
			*out = append(*out, rel)
			continue
		}
		if fi.IsDir() {
			if err := t.glob(rel, pat[1:], out); err != nil {
				return err
			}
		}
	}
	return nil
}
