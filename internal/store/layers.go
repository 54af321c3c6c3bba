package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/strata-build/strata/internal/layer"
)

// LayerDir is an extracted layer: a directory in overlay format, usable as
// an overlay lowerdir.
type LayerDir struct {
	ChainID v1.Hash // the layer's chain id (names its directory)
	DiffID  v1.Hash // the layer's diff_id
	Path    string  // ROOT/layers/<chain hex>/diff
}

// ChainIDs returns the OCI chain ids of a stack of diff_ids, bottom first:
// chain[0] = diff[0], chain[i] = sha256(chain[i-1] + " " + diff[i]).
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	chain := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			chain[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(chain[i-1].String() + " " + d.String()))
		chain[i] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	return chain
}

func (s *Store) layerDir(chainID v1.Hash) string {
	return s.path("layers", chainID.Hex)
}

// HasLayerDir returns the extracted layer with chainID, if the store has it.
func (s *Store) HasLayerDir(chainID v1.Hash) (LayerDir, bool) {
	if checkHash(chainID) != nil {
		return LayerDir{}, false
	}
	dir := s.layerDir(chainID)
	b, err := os.ReadFile(filepath.Join(dir, "diffid"))
	if err != nil {
		return LayerDir{}, false
	}
	diffID, err := v1.NewHash(strings.TrimSpace(string(b)))
	if err != nil {
		return LayerDir{}, false
	}
	ld := LayerDir{ChainID: chainID, DiffID: diffID, Path: filepath.Join(dir, "diff")}
	if boot, err := os.ReadFile(filepath.Join(dir, unsyncedFile)); err == nil && !s.checkUnsynced(ld, strings.TrimSpace(string(boot))) {
		return LayerDir{}, false
	}
	return ld, true
}

// AddLayerDir makes dir, a committed overlay upperdir on the store's
// filesystem, the layer dir of chainID by renaming it in. If the store has
// that chain id already, dir is removed and the existing layer returned.
func (s *Store) AddLayerDir(chainID, diffID v1.Hash, dir string) (LayerDir, error) {
	return s.addLayerDir(chainID, diffID, dir, "")
}

// addLayerDir adds dir as AddLayerDir does; a non-empty boot marks it as
// not synced during that boot.
func (s *Store) addLayerDir(chainID, diffID v1.Hash, dir, boot string) (LayerDir, error) {
	if err := checkHash(chainID); err != nil {
		return LayerDir{}, err
	}
	unlock, err := s.lockShared()
	if err != nil {
		return LayerDir{}, err
	}
	defer unlock()
	if ld, ok := s.HasLayerDir(chainID); ok {
		if err := os.RemoveAll(dir); err != nil {
			return LayerDir{}, fmt.Errorf("removing duplicate layer dir: %w", err)
		}
		return ld, nil
	}
	tmp, err := s.TempDir("layer-")
	if err != nil {
		return LayerDir{}, err
	}
	if err := os.Rename(dir, filepath.Join(tmp, "diff")); err != nil {
		os.RemoveAll(tmp)
		return LayerDir{}, fmt.Errorf("adding layer dir %s: %w", chainID, err)
	}
	if boot != "" {
		if err := os.WriteFile(filepath.Join(tmp, unsyncedFile), []byte(boot+"\n"), 0o644); err != nil {
			os.RemoveAll(tmp)
			return LayerDir{}, fmt.Errorf("marking layer dir %s unsynced: %w", chainID, err)
		}
	}
	return s.commitLayerDir(tmp, chainID, diffID)
}

// commitLayerDir writes the diffid file into tmp (which holds diff/) and
// renames tmp to layers/<chain hex>; when another process got there first,
// tmp is dropped and the existing layer returned.
func (s *Store) commitLayerDir(tmp string, chainID, diffID v1.Hash) (LayerDir, error) {
	if err := os.WriteFile(filepath.Join(tmp, "diffid"), []byte(diffID.String()), 0o644); err != nil {
		os.RemoveAll(tmp)
		return LayerDir{}, fmt.Errorf("writing diffid: %w", err)
	}
	if err := syncDir(tmp); err != nil {
		os.RemoveAll(tmp)
		return LayerDir{}, err
	}
	dst := s.layerDir(chainID)
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		if ld, ok := s.HasLayerDir(chainID); ok {
			return ld, nil
		}
		return LayerDir{}, fmt.Errorf("adding layer dir %s: %w", chainID, err)
	}
	if err := syncDir(s.path("layers")); err != nil {
		return LayerDir{}, err
	}
	return LayerDir{ChainID: chainID, DiffID: diffID, Path: filepath.Join(dst, "diff")}, nil
}

// LayerDirs returns one LayerDir per layer of img, bottom first, extracting
// the layers the store does not have yet. Each layer's diff_id is checked
// against its uncompressed stream while it is extracted.
func (s *Store) LayerDirs(ctx context.Context, img v1.Image) ([]LayerDir, error) {
	parts, err := ReadImageParts(img)
	if err != nil {
		return nil, err
	}
	layers, diffIDs := parts.Layers, parts.Config.RootFS.DiffIDs
	chains := ChainIDs(diffIDs)
	dirs := make([]LayerDir, len(layers))
	var missing []int
	for i, c := range chains {
		if ld, ok := s.HasLayerDir(c); ok {
			dirs[i] = ld
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return dirs, nil
	}
	unlock, err := s.lockShared()
	if err != nil {
		return nil, err
	}
	defer unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, i := range missing {
		g.Go(func() error {
			ld, err := s.extractLayer(gctx, layers[i], chains[i], diffIDs[i])
			if err != nil {
				return fmt.Errorf("extracting layer %d (%s): %w", i+1, diffIDs[i], err)
			}
			dirs[i] = ld
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return dirs, nil
}

func (s *Store) extractLayer(ctx context.Context, l v1.Layer, chainID, diffID v1.Hash) (LayerDir, error) {
	if ld, ok := s.HasLayerDir(chainID); ok {
		return ld, nil
	}
	tmp, err := s.TempDir("layer-")
	if err != nil {
		return LayerDir{}, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	diff := filepath.Join(tmp, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return LayerDir{}, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return LayerDir{}, err
	}
	defer rc.Close()
	sizes, err := extractStream(ctx, rc, diff)
	if err != nil {
		// A damaged blob shows up first as a broken stream or tar: read the
		// rest so that the store's digest check can name the real cause.
		if _, cerr := io.Copy(io.Discard, rc); cerr != nil && ctx.Err() == nil {
			return LayerDir{}, fmt.Errorf("extracting layer %s: %w", diffID, cerr)
		}
		return LayerDir{}, err
	}
	if sizes.diffID != diffID {
		return LayerDir{}, fmt.Errorf("layer content hashes to %s, the config says %s", sizes.diffID, diffID)
	}
	ok = true // commitLayerDir removes tmp itself when it fails
	return s.commitLayerDir(tmp, chainID, diffID)
}

// WriteLayerBlob writes the layer tar of the overlay-format dir (opts.Format
// is DiffFormat when unset) as a blob, checking it against expected when
// given, and returns its digest (the layer's diff_id) and size.
func (s *Store) WriteLayerBlob(ctx context.Context, dir string, opts layer.WriteOptions, expected *v1.Hash) (v1.Hash, int64, error) {
	return s.writeLayerBlob(ctx, dir, opts, expected, true)
}

// WriteKeptLayerBlob is WriteLayerBlob for a dir the store keeps as the
// layer's dir (a build step's): the blob is not synced (CommitUnsynced), so
// that a build does not wait for the disk to take its layers. Should a crash
// lose the blob, the store drops it when next used after the reboot, and the
// next build that needs it runs the step again.
func (s *Store) WriteKeptLayerBlob(ctx context.Context, dir string, opts layer.WriteOptions, expected *v1.Hash) (v1.Hash, int64, error) {
	return s.writeLayerBlob(ctx, dir, opts, expected, false)
}

func (s *Store) writeLayerBlob(ctx context.Context, dir string, opts layer.WriteOptions, expected *v1.Hash, durable bool) (v1.Hash, int64, error) {
	bw, err := s.BlobWriter()
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer bw.Close()
	buf := bufio.NewWriterSize(bw, 1<<20)
	stats, err := layer.WriteTar(ctx, dir, buf, opts)
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("writing the layer: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("writing the layer: %w", err)
	}
	commit := bw.Commit
	if !durable {
		commit = bw.CommitUnsynced
	}
	h, size, err := commit(expected)
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("storing the layer: %w", err)
	}
	// Known now, the size docker shows is not read back from the blob
	// when the image is written (5 s for a 5 GB layer).
	s.cacheSize("content-sizes", "csize-*", h, stats.Content)
	return h, size, nil
}
