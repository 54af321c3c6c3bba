package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// A context hash cache is the builder's record of the content hashes of a
// build context's files (buildcontext.Context.EncodeHashes), kept under
// context-hashes/<name> so that a rebuild need not read unchanged files.
// It is build cache: counted as such by Usage and removed by a cache prune.

func (s *Store) contextHashesPath(name string) (string, error) {
	if err := checkHexName("context hash cache name", name); err != nil {
		return "", err
	}
	return s.path("context-hashes", name), nil
}

// ContextHashes returns the context hash cache name, nil when there is none.
func (s *Store) ContextHashes(name string) ([]byte, error) {
	p, err := s.contextHashesPath(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading context hash cache %s: %w", name, err)
	}
	return b, nil
}

// PutContextHashes replaces the context hash cache name with data,
// atomically.
func (s *Store) PutContextHashes(name string, data []byte) error {
	p, err := s.contextHashesPath(name)
	if err != nil {
		return err
	}
	if err := s.writeFileAtomic(p, data); err != nil {
		return fmt.Errorf("writing context hash cache %s: %w", name, err)
	}
	return nil
}

// pruneContextHashes removes the context hash caches old accepts (by their
// modification time, which is when a build last wrote them).
func (s *Store) pruneContextHashes(ctx context.Context, old func(time.Time) bool) error {
	ents, err := os.ReadDir(s.path("context-hashes"))
	if err != nil {
		return fmt.Errorf("listing context hash caches: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("context hash cache %s: %w", e.Name(), err)
		}
		if !old(fi.ModTime()) {
			continue
		}
		if err := os.Remove(s.path("context-hashes", e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("deleting context hash cache %s: %w", e.Name(), err)
		}
	}
	return nil
}
