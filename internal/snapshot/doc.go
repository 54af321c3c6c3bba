// Package snapshot is the only place a build step's filesystem is made: it
// prepares a writable snapshot over a stack of layer dirs (the lowers, top
// first) or a read-only merged view of one, describes how the sandbox mounts
// it (Mount, applied inside the sandbox's mount namespace), commits the
// changes made in it as a layer dir in overlay upper-dir format, and removes
// what it made.
//
// Two implementations share one small interface:
//
//   - Overlay mounts the lowers with overlayfs and a fresh upper dir; the
//     upper dir is the committed layer dir.
//   - Native, for machines and unprivileged containers where overlayfs
//     cannot be mounted, copies the merged lowers into a plain tree (reflinks
//     when the filesystem can), which the sandbox bind-mounts, and finds the
//     changes by walking the tree against an index of what it copied.
//
// Snapshotter is an interface here, and not in its consumers as the project's
// habit is, because this package is itself the abstraction: the solver and
// strata run both pick one of the two at run time (--snapshotter) and must see
// the same three verbs; neither has a second use for a narrower interface.
//
// Both write the same on-disk format, which internal/layer reads: a deleted
// path is a 0:0 character device, a directory that replaces what the lowers
// had there is marked opaque (trusted.overlay.opaque, or user.overlay.opaque
// in a rootless store), hard links made in the step stay links. The layer
// tars the two commit for the same operations are identical; the package's
// tests check that scenario by scenario.
//
// How Native decides what changed: an entry is unchanged when its inode and
// ctime are still those recorded after the copy (ctime cannot be set by a
// process, so a write, chmod, chown, xattr or link count change shows). A
// touched entry is compared with the lower it was copied from: type, mode,
// owner, size, mtime, device number, symlink target, xattrs, and, for regular
// files of equal size and mtime only, content. A new inode at a path is a new
// entry (a directory with a new inode replaced the old one: it is opaque).
// A name that links to a changed inode brings its other names along, as
// overlayfs copies an inode up to link it.
package snapshot
