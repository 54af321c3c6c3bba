package layer

import (
	"errors"
	"time"
)

// Format tells how whiteouts are represented in a directory on disk.
type Format int

const (
	// DiffFormat is the overlayfs upperdir and lowerdir format: a whiteout is
	// a character device 0:0 with the deleted name and an opaque directory has
	// the xattr trusted.overlay.opaque="y".
	DiffFormat Format = iota
	// MergedFormat is a plain tree (an export, or a tree onto which a layer is
	// applied); a whiteout in a tar extracted in this format deletes from it.
	MergedFormat
)

// String returns the name of the format.
func (f Format) String() string {
	switch f {
	case DiffFormat:
		return "diff"
	case MergedFormat:
		return "merged"
	}
	return "unknown"
}

// WriteOptions tells WriteTar how to read the tree.
type WriteOptions struct {
	// Format is the format of the directory being written.
	Format Format
	// Clamp, when non-nil, sets every mtime later than it to it (truncated to
	// seconds), as SOURCE_DATE_EPOCH asks.
	Clamp *time.Time
	// Skip, when non-nil, is called with each path relative to the directory,
	// slash-separated and without a leading slash ("etc/hosts"); true leaves
	// the path and its subtree out of the tar. It is called in tar order,
	// from one goroutine of WriteTar's own, and may run ahead of the writes.
	Skip func(rel string) bool
}

// WriteStats counts what WriteTar wrote.
type WriteStats struct {
	// Entries is the number of tar entries, whiteouts included.
	Entries int
	// Bytes is the number of regular file content bytes.
	Bytes int64
	// Content is the layer's size as ContentSize counts it from the tar:
	// regular files' sizes (a hard link not again) and symlinks' target
	// lengths.
	Content int64
}

// ExtractOptions tells Extract how to write the tree.
type ExtractOptions struct {
	// Format is the format of the directory being written.
	Format Format
	// IDMap, when non-nil, maps the uid and gid of each entry before it is
	// chowned; nil keeps the numeric ids of the tar.
	IDMap func(uid, gid int) (int, int)
	// NoChown leaves owners as the extracting process makes them (for use
	// without root).
	NoChown bool
}

// ExtractStats counts what Extract read.
type ExtractStats struct {
	// Entries is the number of tar entries, whiteouts included.
	Entries int
	// Bytes is the number of regular file content bytes.
	Bytes int64
	// Content is the layer's size as ContentSize counts it: Bytes plus
	// the length of every symlink's target.
	Content int64
}

// ErrUnsupported is returned by WriteTar and Extract on systems other than
// Linux.
var ErrUnsupported = errors.New("layer tars need Linux")

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	// whiteoutMeta prefixes the AUFS metadata names, of which only the
	// opaque marker is understood.
	whiteoutMeta = ".wh..wh."
	opaqueXattr  = "trusted.overlay.opaque"
	xattrPAX     = "SCHILY.xattr."
	// maxNameLen bounds entry names and link targets (PATH_MAX).
	maxNameLen = 4096
	// bufSize is the copy buffer for file contents.
	bufSize = 1 << 20
)
