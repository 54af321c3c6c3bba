package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BlobWriter streams a blob into tmp/, hashing it as it goes; Commit moves
// it into blobs/sha256.
type BlobWriter struct {
	s         *Store
	f         *os.File
	h         hash.Hash
	n         int64
	committed bool
	closed    bool

	// The blob is hashed by a goroutine and written by another, so that
	// whatever produces the bytes (a tar walk, a decompressor), the hash
	// and the copy into the page cache overlap: free holds empty chunks,
	// hashq the chunks to hash in order (closed by endWrites, and hashed
	// closed once they are), full the hashed chunks to write in order,
	// and werr the first write error, read once done is closed.
	free   chan []byte
	hashq  chan []byte
	hashed chan struct{}
	full   chan []byte
	done   chan struct{}
	werr   error
	failed atomic.Bool // werr is set: Write stops early
	chunk  []byte      // being filled by Write
	ended  bool        // endWrites was called
}

const (
	blobChunk  = 1 << 20 // bytes per chunk handed to the writing goroutine
	blobChunks = 8       // chunks in flight: the memory a writer holds
	// writebackEvery is how many bytes the writing goroutine writes before
	// it starts their writeback.
	writebackEvery = 8 << 20
)

// BlobWriter returns a writer for a new blob. Call Commit to store it and
// Close in every case (Close after Commit does nothing).
func (s *Store) BlobWriter() (*BlobWriter, error) {
	f, err := os.CreateTemp(s.path("tmp"), "blob-*")
	if err != nil {
		return nil, fmt.Errorf("creating blob: %w", err)
	}
	w := &BlobWriter{s: s, f: f, h: sha256.New(), free: make(chan []byte, blobChunks),
		hashq: make(chan []byte, blobChunks), hashed: make(chan struct{}),
		full: make(chan []byte, blobChunks), done: make(chan struct{})}
	for range blobChunks {
		w.free <- make([]byte, 0, blobChunk)
	}
	go w.hash()
	go w.writeFile()
	return w, nil
}

// hash hashes the chunks Write hands over, in order, and passes them on to
// writeFile, until hashq closes.
func (w *BlobWriter) hash() {
	for b := range w.hashq {
		w.h.Write(b)
		w.full <- b
	}
	close(w.full)
	close(w.hashed)
}

// writeFile writes the chunks Write hands over, in order, until full closes.
// Every writebackEvery bytes it starts their writeback, so that Commit's
// fsync waits for the last ones only.
func (w *BlobWriter) writeFile() {
	defer close(w.done)
	var off, since int64
	for b := range w.full {
		if w.werr == nil {
			if _, w.werr = w.f.Write(b); w.werr != nil {
				w.failed.Store(true)
			}
			since += int64(len(b))
			if since >= writebackEvery {
				startWriteback(w.f, off, since)
				off, since = off+since, 0
			}
		}
		w.free <- b[:0]
	}
}

// Write appends p to the blob.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.closed || w.ended {
		return 0, errors.New("store: write to a closed blob writer")
	}
	if w.failed.Load() {
		return 0, fmt.Errorf("writing blob: %w", w.werr)
	}
	w.n += int64(len(p))
	for rest := p; len(rest) > 0; {
		if w.chunk == nil {
			w.chunk = <-w.free
		}
		k := copy(w.chunk[len(w.chunk):cap(w.chunk)], rest)
		w.chunk = w.chunk[:len(w.chunk)+k]
		rest = rest[k:]
		if len(w.chunk) == cap(w.chunk) {
			w.hashq <- w.chunk
			w.chunk = nil
		}
	}
	return len(p), nil
}

// endWrites hands over the last chunk and waits until every chunk is
// hashed. Write fails after it.
func (w *BlobWriter) endWrites() {
	if w.ended {
		return
	}
	w.ended = true
	if len(w.chunk) > 0 {
		w.hashq <- w.chunk
	}
	w.chunk = nil
	close(w.hashq)
	<-w.hashed
}

// flush ends the writes, waits for the file writes and returns their first
// error.
func (w *BlobWriter) flush() error {
	w.endWrites()
	<-w.done
	return w.werr
}

// Digest returns the digest of the blob. It ends it: Write fails after it.
func (w *BlobWriter) Digest() v1.Hash {
	w.endWrites()
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// Commit syncs the blob, checks its digest against expected when given, and
// renames it into blobs/sha256 (dropping it if the store has it already). On
// a mismatch the temporary file is removed and an error returned.
func (w *BlobWriter) Commit(expected *v1.Hash) (v1.Hash, int64, error) {
	return w.commit(expected, true)
}

// CommitUnsynced is Commit without waiting for the blob to reach the disk:
// the blob is marked unsynced (see markUnsynced) and, should the machine
// go down before the kernel writes it back, found damaged and dropped when
// next used after the reboot. For blobs a build can make again: a build
// step's layer (the step's cache record, which names the blob, then misses
// and the step runs again).
func (w *BlobWriter) CommitUnsynced(expected *v1.Hash) (v1.Hash, int64, error) {
	return w.commit(expected, false)
}

func (w *BlobWriter) commit(expected *v1.Hash, durable bool) (v1.Hash, int64, error) {
	if w.closed {
		return v1.Hash{}, 0, errors.New("store: commit of a closed blob writer")
	}
	got := w.Digest()
	err := w.flush()
	if err == nil && durable {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.closed = true
	if err != nil {
		os.Remove(w.f.Name())
		return v1.Hash{}, 0, fmt.Errorf("writing blob: %w", err)
	}
	if expected != nil && *expected != got {
		os.Remove(w.f.Name())
		return v1.Hash{}, 0, fmt.Errorf("blob content hashes to %s, expected %s", got, *expected)
	}
	dst := w.s.blobPath(got)
	if _, err := os.Lstat(dst); err == nil {
		os.Remove(w.f.Name())
		w.committed = true
		return got, w.n, nil
	}
	if !durable {
		if err := w.s.markUnsynced(got); err != nil {
			os.Remove(w.f.Name())
			return v1.Hash{}, 0, err
		}
	}
	if err := os.Rename(w.f.Name(), dst); err != nil {
		os.Remove(w.f.Name())
		return v1.Hash{}, 0, fmt.Errorf("storing blob %s: %w", got, err)
	}
	w.committed = true
	if !durable {
		return got, w.n, nil
	}
	if err := syncDir(w.s.path("blobs", "sha256")); err != nil {
		return v1.Hash{}, 0, err
	}
	return got, w.n, nil
}

// Close aborts the blob unless it was committed.
func (w *BlobWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.flush()
	w.f.Close()
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing aborted blob: %w", err)
	}
	return nil
}

// WriteBlob stores the content of r as a blob, checking its digest against
// expected when given, and returns its digest and size.
func (s *Store) WriteBlob(r io.Reader, expected *v1.Hash) (v1.Hash, int64, error) {
	if expected != nil && s.HasBlob(*expected) {
		// Already stored: nothing to read. The caller's stream is left unread.
		size, err := s.BlobSize(*expected)
		return *expected, size, err
	}
	w, err := s.BlobWriter()
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer w.Close()
	if _, err := io.Copy(w, r); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("writing blob: %w", err)
	}
	return w.Commit(expected)
}

func (s *Store) writeBlobBytes(b []byte, expected *v1.Hash) (v1.Hash, int64, error) {
	return s.WriteBlob(bytes.NewReader(b), expected)
}

// HasBlob reports whether the store holds the blob h.
func (s *Store) HasBlob(h v1.Hash) bool {
	if h.Algorithm != "sha256" || !isHex(h.Hex) {
		return false
	}
	if _, err := os.Lstat(s.blobPath(h)); err != nil {
		return false
	}
	return s.checkUnsyncedBlob(h)
}

// BlobSize returns the size in bytes of the blob h.
func (s *Store) BlobSize(h v1.Hash) (int64, error) {
	if err := checkHash(h); err != nil {
		return 0, err
	}
	fi, err := os.Lstat(s.blobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, notFound("no such blob: %s", h)
	}
	if err != nil {
		return 0, fmt.Errorf("reading blob %s: %w", h, err)
	}
	return fi.Size(), nil
}

// OpenBlob opens the blob h for reading. The reader hashes what it reads and,
// instead of io.EOF, returns an error at the end if the content does not
// match h. A missing blob gives an error wrapping ErrNotFound.
func (s *Store) OpenBlob(h v1.Hash) (io.ReadCloser, error) {
	if err := checkHash(h); err != nil {
		return nil, err
	}
	if !s.checkUnsyncedBlob(h) {
		return nil, notFound("no such blob: %s (written without a sync before a reboot, it did not survive)", h)
	}
	f, err := os.Open(s.blobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound("no such blob: %s", h)
	}
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", h, err)
	}
	return &verifyingReader{f: f, want: h, h: sha256.New()}, nil
}

func (s *Store) readBlob(h v1.Hash) ([]byte, error) {
	rc, err := s.OpenBlob(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func checkHash(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 || !isHex(h.Hex) {
		return fmt.Errorf("unsupported digest %q", h.String())
	}
	return nil
}

// verifyingReader re-hashes a blob while it is read and turns io.EOF into
// an error when the content does not match.
type verifyingReader struct {
	f    *os.File
	want v1.Hash
	h    hash.Hash
	err  error
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	if err == io.EOF {
		got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(r.h.Sum(nil))}
		if got != r.want {
			r.err = fmt.Errorf("blob %s is corrupt (content hashes to %s): remove the image and pull, load or build it again", r.want, got)
			if n > 0 {
				return n, nil
			}
			return 0, r.err
		}
		r.err = io.EOF
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.f.Close() }
