package buildcontext

import (
	"fmt"
	"os"
	"sync"
)

// Context is a build context directory with its .dockerignore applied. It
// is safe for concurrent use.
type Context struct {
	*Tree
	patterns []string

	mu     sync.Mutex
	hashes map[fileKey]*hashEntry // content sha256 of files already read
	// hashesAdded: an entry to keep was added since LoadHashes.
	hashesAdded bool
	filesRead   int
}

// Source is one path a COPY or ADD selects.
type Source struct {
	// Rel is the source relative to the context root, slash-separated and
	// clean ("." is the root). Its last component is the name the source
	// has at the destination; a symlink there is not resolved (a copy
	// follows it, inside the context). For a wildcard match, the directory
	// part before the first wildcard is the resolved one.
	Rel string
	// Glob is true when the source is a match of a wildcard pattern.
	Glob bool
}

// Open opens the build context dir for a build of the given Dockerfile
// (absolute, or relative to dir; empty means dir/Dockerfile) and reads its
// ignore file as ReadIgnoreFile chooses it. The Dockerfile and .dockerignore
// are part of the context unless a pattern excludes them, as with docker.
func Open(dir string, dockerfile string) (*Context, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening build context %s: not a directory", dir)
	}
	patterns, err := ReadIgnoreFile(dir, dockerfile)
	if err != nil {
		return nil, err
	}
	t, err := NewTree(dir, patterns)
	if err != nil {
		return nil, err
	}
	return &Context{Tree: t, patterns: patterns, hashes: make(map[fileKey]*hashEntry)}, nil
}

// OpenUnfiltered opens dir as a build context without reading its ignore
// file: every file is part of it. BuildKit filters only local directories;
// a context fetched as a tar on stdin or from git is taken whole.
func OpenUnfiltered(dir string) (*Context, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening build context %s: not a directory", dir)
	}
	t, err := NewTree(dir, nil)
	if err != nil {
		return nil, err
	}
	return &Context{Tree: t, hashes: make(map[fileKey]*hashEntry)}, nil
}

// Dir returns the absolute context directory.
func (c *Context) Dir() string { return c.Root() }

// Patterns returns the .dockerignore patterns in effect (for
// fscopy.Action.Exclude); the caller must not modify them.
func (c *Context) Patterns() []string { return c.patterns }

// Select resolves COPY/ADD sources, as written in the Dockerfile after
// ARG/ENV expansion, against the context. A source without wildcards gives
// one Source, or a *NotFoundError; a wildcard source gives its matches in
// lexical order, possibly none (BuildKit accepts a wildcard matching
// nothing). Sources are returned in the order of patterns.
func (c *Context) Select(patterns []string) ([]Source, error) {
	var out []Source
	for _, p := range patterns {
		if ContainsWildcards(p) {
			matches, err := c.Glob(p)
			if err != nil {
				return nil, err
			}
			for _, m := range matches {
				out = append(out, Source{Rel: m, Glob: true})
			}
			continue
		}
		if _, err := c.Resolve(p); err != nil {
			return nil, err
		}
		out = append(out, Source{Rel: CleanSource(p)})
	}
	return out, nil
}
