package fscopy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"

	"github.com/strata-build/strata/internal/buildcontext"
)

// setTop makes the tree path top the source being copied, whose entries
// the --exclude patterns are matched against.
func (c *copier) setTop(top string) error {
	c.top = top
	c.excl = nil
	if len(c.a.ExcludePatterns) == 0 {
		return nil
	}
	t, err := buildcontext.NewTree(c.src(top), c.a.ExcludePatterns)
	if err != nil {
		return fmt.Errorf("compiling --exclude: %w", err)
	}
	c.excl = t
	return nil
}

// present reports whether the tree path rel (Lstat fi), below the source
// being copied, is copied: neither ignored by the tree nor --excluded.
func (c *copier) present(rel string, fi fs.FileInfo) (bool, error) {
	ok, err := c.tree.Present(rel, fi)
	if err != nil || !ok || c.excl == nil {
		return ok, err
	}
	below := rel
	if c.top != "." {
		below = strings.TrimPrefix(rel, c.top+"/")
	}
	return c.excl.Present(below, fi)
}

// copyParents copies, for COPY --parents, what the pattern s.Rel selects
// below s.Pivot to dest joined with each selected path below the pivot,
// keeping the directories on the way (their metadata from the source),
// as BuildKit's copy with an include pattern does.
func (c *copier) copyParents(s Source, dest string) error {
	pivot, err := c.tree.Resolve(buildcontext.CleanSource(s.Pivot))
	if err != nil {
		return err
	}
	pattern := buildcontext.CleanSource(s.Rel)
	if !s.IsGlob {
		// a literal source must exist, as without --parents
		if _, err := c.tree.Resolve(path.Join(pivot, pattern)); err != nil {
			return err
		}
	}
	pm, err := patternmatcher.New([]string{pattern})
	if err != nil {
		return fmt.Errorf("compiling %q: %w", pattern, err)
	}
	fi, err := os.Stat(c.src(pivot))
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("the pivot %s (before \"/./\") is not a directory", s.Pivot)
	}
	if err := c.setTop(pivot); err != nil {
		return err
	}
	created, err := c.mkdirAll(dest)
	if err != nil {
		return err
	}
	defer c.fixTimes(created)
	dst, err := securejoin.SecureJoin(c.root, dest)
	if err != nil {
		return err
	}
	w := &parentsWalk{c: c, pm: pm, pat: strings.Split(pattern, "/")}
	return w.dir(pivot, "", dst, func() error { return nil })
}

// parentsWalk walks the pivot of a COPY --parents source.
type parentsWalk struct {
	c   *copier
	pm  *patternmatcher.PatternMatcher
	pat []string // the pattern's components
}

// dir copies the selected entries of the tree directory rel (below is
// its path under the pivot) into the host directory target, which
// ensure creates before the first entry is copied.
func (w *parentsWalk) dir(rel, below, target string, ensure func() error) error {
	c := w.c
	entries, err := os.ReadDir(c.src(rel))
	if err != nil {
		return err
	}
	for _, e := range entries {
		child, childBelow := path.Join(rel, e.Name()), path.Join(below, e.Name())
		cfi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		ok, err := c.present(child, cfi)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		childTarget := filepath.Join(target, e.Name())
		match, err := w.pm.MatchesOrParentMatches(childBelow)
		if err != nil {
			return fmt.Errorf("matching %s: %w", childBelow, err)
		}
		if match {
			if err := ensure(); err != nil {
				return err
			}
			if err := c.copy(child, cfi, childTarget, true); err != nil {
				return err
			}
			continue
		}
		if !cfi.IsDir() || !mayHold(w.pat, strings.Split(childBelow, "/")) {
			continue
		}
		if err := w.subdir(child, childBelow, childTarget, cfi, ensure); err != nil {
			return err
		}
	}
	return nil
}

// subdir walks a directory that does not match but may hold matches; it
// is made in the copy (with its source's metadata) only when it does.
func (w *parentsWalk) subdir(rel, below, target string, fi fs.FileInfo, ensure func() error) error {
	made := false
	mk := func() error {
		if made {
			return nil
		}
		if err := ensure(); err != nil {
			return err
		}
		tfi, err := os.Lstat(target)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		case err != nil:
			return err
		case !tfi.IsDir():
			return fmt.Errorf("cannot copy directory %s to non-directory %s", rel, w.c.show(target))
		}
		made = true
		return nil
	}
	if err := w.dir(rel, below, target, mk); err != nil {
		return err
	}
	if !made {
		return nil
	}
	return w.c.setInfo(w.c.src(rel), fi, target)
}

// mayHold reports whether the pattern components pat could match a path
// below the directory whose components are dir.
func mayHold(pat, dir []string) bool {
	for i, d := range dir {
		if i >= len(pat) {
			return false
		}
		if strings.Contains(pat[i], "**") {
			return true
		}
		if ok, err := path.Match(pat[i], d); err != nil || !ok {
			return false
		}
	}
	return true
}
