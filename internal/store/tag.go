package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RemoveOptions tunes Remove.
type RemoveOptions struct {
	// Force removes an image given by ID even when several names point at it.
	Force bool
}

// Tag points newName (normalised) at the image ref names; ref is anything
// Image accepts. A name that pointed elsewhere is moved.
func (s *Store) Tag(ref string, newName string) error {
	full, err := Normalize(newName)
	if err != nil {
		return err
	}
	if strings.Contains(full, "@") {
		return fmt.Errorf("refusing to create a tag with a digest reference: %s", newName)
	}
	unlock, err := s.lockShared()
	if err != nil {
		return err
	}
	defer unlock()
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		_, desc, err := s.resolve(idx, ref)
		if err != nil {
			return err
		}
		setName(idx, desc, full)
		return nil
	})
}

// Untag removes one name. The image stays in the store until GC if it has
// no other name.
func (s *Store) Untag(name string) error {
	full, err := Normalize(name)
	if err != nil {
		return err
	}
	unlock, err := s.lockShared()
	if err != nil {
		return err
	}
	defer unlock()
	return s.updateIndex(func(idx *v1.IndexManifest) error {
		if !removeName(idx, full) {
			return notFound("no such image: %s", FamiliarName(full))
		}
		return nil
	})
}

// Remove deletes an image the way `docker rmi` does. Given a name, it
// removes that name, and the image if it was its last. Given an image ID
// (or prefix), it removes every name of the image, refusing when the names
// span several references unless opts.Force is set. It returns the lines
// docker prints ("Untagged: busybox:latest", "Deleted: sha256:…") and then
// runs GC, which frees the space unless another process holds the store.
func (s *Store) Remove(ctx context.Context, ref string, opts RemoveOptions) ([]string, error) {
	lines, err := s.removeNames(ref, opts)
	if err != nil {
		return nil, err
	}
	if _, err := s.GC(ctx); err != nil {
		return lines, fmt.Errorf("collecting garbage: %w", err)
	}
	return lines, nil
}

func (s *Store) removeNames(ref string, opts RemoveOptions) ([]string, error) {
	unlock, err := s.lockShared()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var lines []string
	err = s.updateIndex(func(idx *v1.IndexManifest) error {
		lines = nil
		recs, _, err := s.records(idx)
		if err != nil {
			return err
		}
		if full, err := Normalize(ref); err == nil {
			for _, r := range recs {
				for _, n := range r.Names {
					if n == full {
						removed := untagWithDigests(idx, namesOfID(recs, r.ID), full)
						for _, u := range removed {
							lines = append(lines, "Untagged: "+FamiliarName(u))
						}
						if len(namesOfID(recs, r.ID)) == len(removed) {
							lines = append(lines, "Deleted: "+r.ID.String())
						}
						return nil
					}
				}
			}
		}
		rec, _, err := s.resolve(idx, ref)
		if err != nil {
			return err
		}
		names := namesOfID(recs, rec.ID)
		if !opts.Force && len(names) > 1 && !isSingleReference(names) {
			return fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", rec.ID.Hex[:12])
		}
		for _, n := range names {
			removeName(idx, n)
			lines = append(lines, "Untagged: "+FamiliarName(n))
		}
		for _, r := range recs {
			if r.ID == rec.ID {
				removeUnnamed(idx, r.Manifest)
			}
		}
		lines = append(lines, "Deleted: "+rec.ID.String())
		return nil
	})
	return lines, err
}

// untagWithDigests removes name from idx and, as docker does, the digest names
// (repo@sha256:…) of the same repository when no other tag of that repository
// is left on the image whose names are names. It returns what it removed.
func untagWithDigests(idx *v1.IndexManifest, names []string, name string) []string {
	removeName(idx, name)
	removed := []string{name}
	repo := repository(name)
	for _, n := range names {
		if n != name && !strings.Contains(n, "@") && repository(n) == repo {
			return removed
		}
	}
	for _, n := range names {
		if strings.Contains(n, "@") && repository(n) == repo {
			removeName(idx, n)
			removed = append(removed, n)
		}
	}
	return removed
}

// namesOfID returns the sorted names of every manifest whose config is id.
func namesOfID(recs []Record, id v1.Hash) []string {
	var names []string
	for _, r := range recs {
		if r.ID == id {
			names = append(names, r.Names...)
		}
	}
	sort.Strings(names)
	return names
}

// isSingleReference reports whether names are one tag plus digest names of
// the same repository, which docker removes by ID without -f.
func isSingleReference(names []string) bool {
	var tags []string
	repos := map[string]bool{}
	for _, n := range names {
		if strings.Contains(n, "@") {
			repos[repository(n)] = true
		} else {
			tags = append(tags, n)
		}
	}
	switch len(tags) {
	case 0:
		return len(repos) == 1
	case 1:
		delete(repos, repository(tags[0]))
		return len(repos) == 0
	}
	return false
}
