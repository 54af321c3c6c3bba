package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/layer"
)

// A pull that extracts reads each layer once, as it downloads: one goroutine
// copies the compressed stream into the blob writer (which hashes it and
// writes it out from a goroutine of its own) and into a pipe; the
// decompressor reads the pipe, and layer.Extract writes what it yields into
// a temporary dir, hashing it on the way for the diff_id. The blob and the
// layer dir become visible only when the blob's digest and the diff_id both
// match, so that a damaged, cut or cancelled download leaves neither.

// layerTarget is where a layer being written is extracted: its layer dir.
type layerTarget struct {
	chainID, diffID v1.Hash
}

// copyBufSize is the size of the reads from a layer's download.
const copyBufSize = 256 << 10

// errExtracted stops the copy into the decompressor once extraction is over.
var errExtracted = errors.New("store: extraction is over")

// extractOptions are the options of every extraction into a layer dir
// (pull, first use, fsck).
func extractOptions() layer.ExtractOptions {
	return layer.ExtractOptions{Format: layer.DiffFormat, NoChown: os.Geteuid() != 0}
}

// writeLayerExtracting stores the blob of l, which desc describes, and
// extracts it into the layer dir of to from the same read of its stream.
func (s *Store) writeLayerExtracting(ctx context.Context, l v1.Layer, desc v1.Descriptor, to layerTarget) error {
	tmp, err := s.TempDir("layer-")
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(tmp)
		}
	}()
	diff := filepath.Join(tmp, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	bw, err := s.BlobWriter()
	if err != nil {
		return err
	}
	defer bw.Close()

	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(&blobAndPipe{bw: bw, pw: pw}, rc, make([]byte, copyBufSize))
		pw.CloseWithError(err) // nil: the decompressor sees io.EOF
		copied <- err
	}()
	sizes, xerr := extractStream(ctx, pr, diff)
	pr.CloseWithError(errExtracted) // the copy goes on into the blob alone
	cerr := <-copied
	if got := bw.Digest(); got != desc.Digest && bw.n == desc.Size {
		// A damaged blob shows up first as a broken stream or tar (or as
		// the source's own digest check): its digest names the real cause.
		return fmt.Errorf("layer %s: the downloaded content hashes to %s: the source's copy is damaged (pull again; if it persists, push or build the image again)", desc.Digest, got)
	}
	if cerr != nil {
		return fmt.Errorf("downloading layer %s: %w", desc.Digest, cerr)
	}
	if got := bw.Digest(); got != desc.Digest {
		return fmt.Errorf("layer %s: the downloaded content hashes to %s", desc.Digest, got)
	}
	if xerr != nil {
		return fmt.Errorf("extracting layer %s: %w", desc.Digest, xerr)
	}
	if sizes.diffID != to.diffID {
		return fmt.Errorf("layer %s: its content hashes to %s, the config says %s", desc.Digest, sizes.diffID, to.diffID)
	}
	if _, _, err := bw.Commit(&desc.Digest); err != nil {
		return fmt.Errorf("writing layer %s: %w", desc.Digest, err)
	}
	s.cacheSize("sizes", "size-*", desc.Digest, sizes.diff)
	s.cacheSize("content-sizes", "csize-*", desc.Digest, sizes.content)
	committed = true // commitLayerDir removes tmp itself when it fails
	if _, err := s.commitLayerDir(tmp, to.chainID, to.diffID); err != nil {
		return fmt.Errorf("adding the layer dir of %s: %w", desc.Digest, err)
	}
	return nil
}

// streamSizes are what extractStream learns of a layer.
type streamSizes struct {
	diffID  v1.Hash // sha256 of the uncompressed tar
	diff    int64   // bytes of the uncompressed tar
	content int64   // as layer.ContentSize counts them
}

// extractStream decompresses the layer stream r into dir and reads it to
// its end, hashing the tar.
func extractStream(ctx context.Context, r io.Reader, dir string) (streamSizes, error) {
	zr, err := layer.Decompress(r)
	if err != nil {
		return streamSizes{}, err
	}
	defer zr.Close()
	h := &countingHash{h: sha256.New()}
	tee := io.TeeReader(zr, h)
	stats, err := layer.Extract(ctx, tee, dir, extractOptions())
	if err != nil {
		return streamSizes{}, err
	}
	// The tar reader stops at the end-of-archive marker: hash the rest too.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return streamSizes{}, fmt.Errorf("reading the end of the layer: %w", err)
	}
	return streamSizes{
		diffID:  v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.h.Sum(nil))},
		diff:    h.n,
		content: stats.Content,
	}, nil
}

// countingHash hashes and counts what is written to it.
type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// blobAndPipe writes a download to its blob and, until the pipe's reader
// has stopped, to the pipe.
type blobAndPipe struct {
	bw      *BlobWriter
	pw      *io.PipeWriter
	stopped bool
}

func (w *blobAndPipe) Write(p []byte) (int, error) {
	if _, err := w.bw.Write(p); err != nil {
		return 0, err
	}
	if !w.stopped {
		if _, err := w.pw.Write(p); err != nil {
			w.stopped = true
		}
	}
	return len(p), nil
}
