package solver

import (
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/strata-build/strata/internal/buildcontext"
	"github.com/strata-build/strata/internal/fscopy"
)

// copyFlags are the COPY and ADD flags of the Dockerfile 1.x syntax.
type copyFlags struct {
	exclude []string // --exclude, repeated
	parents bool     // COPY --parents
	link    bool     // --link
	unpack  *bool    // ADD --unpack, nil when not given
}

// setChmod sets a's --chmod, octal or symbolic.
func setChmod(a *fscopy.Action, chmod string) error {
	m, err := fscopy.ParseMode(chmod)
	if err != nil {
		return err
	}
	if m.Clauses == nil {
		mode := os.FileMode(m.Octal)
		a.Chmod = &mode
		return nil
	}
	a.SymbolicChmod = &m
	return nil
}

// apply sets the flags' options on a and returns what they add to the
// step's cache key.
func (f copyFlags) apply(a *fscopy.Action) []string {
	var key []string
	if len(f.exclude) > 0 {
		a.ExcludePatterns = f.exclude
		key = append(key, "exclude="+strings.Join(f.exclude, "\x00"))
	}
	if f.parents {
		a.Parents = true
		key = append(key, "parents")
	}
	if f.unpack != nil {
		a.Unpack = *f.unpack
		key = append(key, "unpack="+strconv.FormatBool(*f.unpack))
	}
	if f.link {
		key = append(key, "link")
	}
	return key
}

// sources returns the fscopy sources of the sources as written: with
// --parents, a source's part before "/./" is its pivot and the rest a
// pattern below it.
func (f copyFlags) sources(srcs []string) []fscopy.Source {
	var out []fscopy.Source
	for _, s := range srcs {
		if !f.parents {
			out = append(out, fscopy.Source{Rel: buildcontext.CleanSource(s), IsGlob: buildcontext.ContainsWildcards(s)})
			continue
		}
		pivot, pattern, ok := strings.Cut(s, "/./")
		if !ok {
			pivot, pattern = ".", s
		}
		out = append(out, fscopy.Source{Rel: buildcontext.CleanSource(pattern), Pivot: buildcontext.CleanSource(pivot),
			IsGlob: buildcontext.ContainsWildcards(pattern)})
	}
	return out
}

// digestSources returns the context paths whose content a COPY of srcs
// depends on, for its cache key: with --parents, the directory before the
// first wildcard of each pattern (a "**" may reach any depth below it).
func (f copyFlags) digestSources(srcs []string) []string {
	if !f.parents {
		return srcs
	}
	var out []string
	for _, s := range f.sources(srcs) {
		comps := strings.Split(s.Rel, "/")
		fixed := []string{s.Pivot}
		for _, c := range comps {
			if buildcontext.ContainsWildcards(c) {
				break
			}
			fixed = append(fixed, c)
		}
		out = append(out, path.Join(fixed...))
	}
	return out
}

// copyDest returns a COPY/ADD destination with "." and "" written as
// "./": they name the working directory as a directory, as BuildKit's
// dispatchCopy adds the slash (without it, a COPY --link, whose root is
// empty, or a working directory missing from the image made a file).
func copyDest(dest string) string {
	if dest == "." || dest == "" {
		return "./"
	}
	return dest
}
