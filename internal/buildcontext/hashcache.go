package buildcontext

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The content hash cache of a Context can outlive the process: the caller
// keeps what EncodeHashes returns (strata keeps it in the store, one file
// per context directory) and gives it to LoadHashes before the next build,
// so that a rebuild reads only the files that changed. A file's entry is
// found only when its path, size, mtime, ctime, device and inode are all
// unchanged. ctime cannot be set by a user (touch -d and utimes set mtime
// only, and any write, chmod, chown or rename moves ctime to now), so a
// file edited since it was hashed never matches its old entry.
//
// The one way an edit could keep every field is racily: a file written
// within the same timestamp tick as it was hashed, after the read, keeps
// its ctime. Entries whose mtime or ctime is less than racyWindow older
// than the moment their file was opened are therefore kept for this
// process only and never encoded (git's "racily clean" rule, with a margin
// for filesystems whose timestamps are coarse).
var racyWindow = 2 * time.Second // a variable for the tests

// hashesMagic starts every encoding; a different version is not read.
const hashesMagic = "strata context hashes 1\n"

// maxHashEntries bounds what is kept of entries this process did not use
// (files since deleted or renamed leave theirs behind until a prune).
const maxHashEntries = 1 << 20

// hashEntry is a cached content hash.
type hashEntry struct {
	sum    [sha256.Size]byte
	xattrs []string // "name=value", sorted
	// keep: not racy, so it may be encoded.
	keep bool
	// used: read or looked up by this process.
	used bool
}

// CacheName names the persistent hash cache of the context: the same for
// every Context opened on the same directory.
func (c *Context) CacheName() string {
	s := sha256.Sum256([]byte("context " + c.Root()))
	return hex.EncodeToString(s[:16])
}

// FilesRead is the number of files whose content c has read so far: those
// it found no hash of.
func (c *Context) FilesRead() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.filesRead
}

// LoadHashes adds the entries of data, an earlier EncodeHashes of a
// Context on the same directory, to c's cache. Entries of another directory
// are ignored. Malformed data adds nothing and is an error; the cache then
// simply starts empty.
func (c *Context) LoadHashes(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	entries, err := decodeHashes(data, c.Root()+"/")
	if err != nil {
		return fmt.Errorf("reading the context's hash cache: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.hashes) == 0 {
		c.hashes = make(map[fileKey]*hashEntry, len(entries))
	}
	for i := range entries {
		if _, ok := c.hashes[entries[i].key]; !ok {
			c.hashes[entries[i].key] = &entries[i].hashEntry
		}
	}
	return nil
}

// EncodeHashes returns the cache's entries to keep for the next process,
// and whether they differ from what was loaded (nothing new: no need to
// write them). For a path with an entry this process used, only the used
// entries are kept: the others are of earlier versions of the file.
func (c *Context) EncodeHashes() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hashesAdded {
		return nil, false
	}
	usedPath := map[string]bool{}
	for k, e := range c.hashes {
		if e.used {
			usedPath[k.path] = true
		}
	}
	unused := 0
	b := []byte(hashesMagic)
	putS := func(s string) { b = append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	for k, e := range c.hashes {
		if !e.keep || !e.used && usedPath[k.path] {
			continue
		}
		if !e.used {
			if unused++; unused > maxHashEntries {
				continue
			}
		}
		putS(k.path)
		for _, v := range []int64{k.size, k.mtime, k.ctime} {
			b = binary.AppendVarint(b, v)
		}
		b = binary.AppendUvarint(binary.AppendUvarint(b, k.dev), k.ino)
		b = append(b, e.sum[:]...)
		b = binary.AppendUvarint(b, uint64(len(e.xattrs)))
		for _, x := range e.xattrs {
			putS(x)
		}
	}
	return b, true
}

// keyedEntry is a decoded entry.
type keyedEntry struct {
	key fileKey
	hashEntry
}

// decodeHashes parses an EncodeHashes result, keeping the entries of paths
// under prefix.
func decodeHashes(data []byte, prefix string) ([]keyedEntry, error) {
	if !bytes.HasPrefix(data, []byte(hashesMagic)) {
		return nil, errors.New("not a hash cache of this version")
	}
	// one string for all: the paths and attributes are slices of it
	d := hashDecoder{b: string(data[len(hashesMagic):])}
	out := make([]keyedEntry, 0, len(d.b)/64)
	for len(d.b) > 0 && d.err == nil {
		e := keyedEntry{hashEntry: hashEntry{keep: true}}
		e.key.path = d.str()
		e.key.size, e.key.mtime, e.key.ctime = d.int(), d.int(), d.int()
		e.key.dev, e.key.ino = d.uint(), d.uint()
		copy(e.sum[:], d.bytes(sha256.Size))
		if n := d.uint(); n > 0 && d.err == nil {
			if n > uint64(len(d.b)) {
				d.err = errors.New("truncated entry")
				break
			}
			e.xattrs = make([]string, n)
			for i := range e.xattrs {
				e.xattrs[i] = d.str()
			}
		}
		if strings.HasPrefix(e.key.path, prefix) {
			out = append(out, e)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// hashDecoder reads the fields of an encoding; the first error sticks and
// zero values follow it.
type hashDecoder struct {
	b   string
	err error
}

func (d *hashDecoder) fail() { d.err, d.b = errors.New("truncated entry"), "" }

func (d *hashDecoder) uint() uint64 { return readVarint(d, binary.Uvarint) }

func (d *hashDecoder) int() int64 { return readVarint(d, binary.Varint) }

// readVarint reads a varint with read (binary.Varint or binary.Uvarint).
func readVarint[T int64 | uint64](d *hashDecoder, read func([]byte) (T, int)) T {
	v, n := read(d.head())
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// head returns the bytes a varint can take.
func (d *hashDecoder) head() []byte {
	return []byte(d.b[:min(len(d.b), binary.MaxVarintLen64)])
}

func (d *hashDecoder) bytes(n uint64) string {
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *hashDecoder) str() string { return d.bytes(d.uint()) }

// racy reports whether a file with key k, opened at opened, could still
// change without changing k.
func racy(k fileKey, opened time.Time) bool {
	t := max(k.mtime, k.ctime)
	return opened.UnixNano()-t < int64(racyWindow)
}
