// Package layer reads and writes OCI layer tars.
//
// A layer is a tar stream of one filesystem diff. [WriteTar] walks a directory
// and writes a deterministic PAX tar of it: entries sorted by path, parents
// before children, mtimes truncated to seconds, no atime or ctime, numeric
// owners only, xattrs as SCHILY.xattr.* records and hardlinks to the first
// name of each group. Two calls over the same tree give the same bytes, so a
// layer's diff_id depends on the tree only.
//
// [Extract] is the reverse: it unpacks a layer tar into a directory, keeping
// owners, modes (setuid included), mtimes, xattrs (security.capability
// included), hardlinks, symlinks and device nodes, and refuses any entry that
// would write outside that directory.
//
// Both sides know two on-disk formats ([Format]). In [DiffFormat] the
// directory is an overlayfs upperdir or lowerdir, where a deletion is a
// character device 0:0 and an opaque directory carries the xattr
// trusted.overlay.opaque=y; these become the OCI whiteouts ".wh.<name>" and
// "<dir>/.wh..wh..opq" in the tar and back. In [MergedFormat] the directory
// is a plain tree: whiteouts in a tar being extracted delete from it.
//
// [Compress], [Decompress] and [Detect] handle the compressed forms of a
// layer. Gzip is written in parallel with a fixed block size, so its output is
// the same bytes whatever the number of cores.
package layer
