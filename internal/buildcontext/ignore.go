package buildcontext

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// ReadIgnoreFile returns the patterns of the ignore file that applies to a
// build of the context dir with the given Dockerfile, as BuildKit chooses it:
// "<Dockerfile>.dockerignore" next to the Dockerfile when it exists, else
// dir/.dockerignore, else none. dockerfile is the Dockerfile's path, absolute
// or relative to dir; empty means dir/Dockerfile. Patterns are normalised as
// docker does: comments and blank lines dropped, paths cleaned, a leading "/"
// removed, "!" kept in front of exceptions.
func ReadIgnoreFile(dir, dockerfile string) ([]string, error) {
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(dir, dockerfile)
	}
	for _, name := range []string{dockerfile + ".dockerignore", filepath.Join(dir, ".dockerignore")} {
		data, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading ignore file: %w", err)
		}
		patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("reading ignore file %s: %w", name, err)
		}
		return patterns, nil
	}
	return nil, nil
}

// matcher applies exclude patterns; a nil matcher excludes nothing.
type matcher struct {
	pm *patternmatcher.PatternMatcher
	// exceptions are the "!" patterns split into path components.
	exceptions [][]string
}

// newMatcher compiles patterns; it returns nil when there are none.
func newMatcher(patterns []string) (*matcher, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("compiling .dockerignore patterns: %w", err)
	}
	m := &matcher{pm: pm}
	for _, p := range pm.Patterns() {
		if p.Exclusion() {
			m.exceptions = append(m.exceptions, strings.Split(p.String(), "/"))
		}
	}
	return m, nil
}

// excluded reports whether rel (slash-separated, relative, clean) is
// excluded, by a pattern matching it or one of its parents and no later
// exception matching it.
func (m *matcher) excluded(rel string) (bool, error) {
	if m == nil || rel == "." || rel == "" {
		return false, nil
	}
	ok, err := m.pm.MatchesOrParentMatches(filepath.FromSlash(rel))
	if err != nil {
		return false, fmt.Errorf("matching %q against .dockerignore: %w", rel, err)
	}
	return ok, nil
}

// mayReinclude reports whether an exception pattern could match a path
// below the excluded directory dir, so that the directory must be searched.
func (m *matcher) mayReinclude(dir string) bool {
	if m == nil {
		return false
	}
	comps := strings.Split(dir, "/")
	for _, ex := range m.exceptions {
		if prefixMayMatch(ex, comps) {
			return true
		}
	}
	return false
}

// prefixMayMatch reports whether the pattern components pat could match a
// path that starts with the components dir.
func prefixMayMatch(pat, dir []string) bool {
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
