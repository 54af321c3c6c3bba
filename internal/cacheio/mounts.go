package cacheio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/iox"
	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/store"
)

// mountEntry is one RUN --mount=type=cache directory of an exported cache
// (cache-mounts=true): a gzip of its tree, one layer per cache.
type mountEntry struct {
	// Name is the directory's name under the store's cachemounts.
	Name string `json:"name"`
	// Digest is its layer's digest.
	Digest v1.Hash `json:"digest"`
}

// mountsDir is where the store keeps the cache mounts' directories.
func mountsDir(st *store.Store) string { return filepath.Join(st.Root(), "cachemounts") }

// exportMounts tars and compresses each cache mount directory of st into
// tmp, in name order: the same files give the same digest, which a
// registry that has it is not sent again.
func exportMounts(ctx context.Context, st *store.Store, tmp string) ([]mountEntry, []*fileLayer, error) {
	ents, err := os.ReadDir(mountsDir(st))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing the cache mounts: %w", err)
	}
	var entries []mountEntry
	var layers []*fileLayer
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		l, err := tarMount(ctx, filepath.Join(mountsDir(st), e.Name()), filepath.Join(tmp, "mount-"+e.Name()))
		if err != nil {
			return nil, nil, fmt.Errorf("exporting cache mount %s: %w", e.Name(), err)
		}
		entries = append(entries, mountEntry{Name: e.Name(), Digest: l.digest})
		layers = append(layers, l)
	}
	return entries, layers, nil
}

// tarMount writes the gzip of dir's tree to path and returns it as a layer.
func tarMount(ctx context.Context, dir, path string) (*fileLayer, error) {
	return gzipFile(path, func(w io.Writer) error {
		_, err := layer.WriteTar(ctx, dir, w, layer.WriteOptions{Format: layer.MergedFormat})
		return err
	})
}

// RestoreMounts puts the cache's RUN --mount=type=cache directories that
// the store lacks into it (one the store has is kept: it is at least as
// new), and returns how many it restored.
func (im *Importer) RestoreMounts(ctx context.Context) (int, error) {
	n := 0
	for _, m := range im.mounts {
		if m.Name == "" || m.Name != filepath.Base(m.Name) || strings.HasPrefix(m.Name, ".") {
			return n, fmt.Errorf("restoring the cache mounts from %s: bad cache mount name %q", im.spec, m.Name)
		}
		dst := filepath.Join(mountsDir(im.st), m.Name)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := im.restoreMount(ctx, m, dst); err != nil {
			return n, fmt.Errorf("restoring cache mount %s from %s: %w", m.Name, im.spec, err)
		}
		n++
	}
	return n, nil
}

// restoreMount extracts m's layer into a temporary directory of the store
// and renames it to dst.
func (im *Importer) restoreMount(ctx context.Context, m mountEntry, dst string) error {
	l, err := im.img.LayerByDigest(m.Digest)
	if err != nil {
		return err
	}
	rc, err := l.Compressed() // checked against the digest as it is read
	if err != nil {
		return err
	}
	defer rc.Close()
	cr := &iox.CountReader{R: iox.ContextReader{Ctx: ctx, R: rc}}
	dr, err := layer.Decompress(cr)
	if err != nil {
		return err
	}
	defer dr.Close()
	tmp, err := im.st.TempDir("cache-mount-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	if _, err := layer.Extract(ctx, dr, tree, layer.ExtractOptions{Format: layer.MergedFormat}); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tree, dst); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) { // restored meanwhile
		return err
	}
	im.mu.Lock()
	im.stats.Layers++
	im.stats.Bytes += cr.N
	im.mu.Unlock()
	return nil
}
