// Package fscopy performs Dockerfile COPY and ADD of local sources, and the
// directory creation of WORKDIR, with BuildKit's semantics (its file op
// backend and github.com/tonistiigi/fsutil/copy, as in Docker 20.10's
// built-in BuildKit, the conformance oracle):
//
//   - each source is resolved inside Action.SrcRoot, following symlinks
//     (the last component's too) but never leaving SrcRoot, and the paths
//     excluded by Action.Exclude do not exist;
//   - a directory source has its contents copied into the destination,
//     never the directory itself, also when it is a wildcard match;
//   - a non-directory source goes to the destination path, or into it when
//     the destination is an existing directory; a destination written with
//     a trailing "/" is created as a directory first;
//   - missing destination directories are created with mode 0755, owned by
//     --chown's owner when given; an existing destination directory keeps
//     its own metadata while entries below it are replaced or merged;
//   - copied entries keep their mode bits, mtimes and xattrs; their owner
//     is 0:0 (a build-context copy), the source's (COPY --from) or --chown's;
//     --chmod sets the mode of every copied file and directory;
//   - symlinks inside a copied directory are copied as symlinks, hard links
//     between the files of one source are kept, fifos and devices are
//     recreated with mknod (never opened), sockets are skipped, or copied
//     as empty regular files from the build context (SocketsAsFiles);
//   - the destination is resolved inside root with securejoin: an absolute
//     symlink in the image leads to a path inside the image, never on the
//     host; an existing entry at a copied path is removed first, so a file
//     replaces a symlink instead of writing through it;
//   - ADD (Action.Unpack) of a regular file that decompresses (gzip, bzip2,
//     xz, zstd or none) to a tar extracts it into the destination directory,
//     keeping the archive's owners unless --chown is given.
//
// Copy is meant to run inside the build sandbox, with root the mounted
// image tree; Action is plain data so that it can be handed over to that
// process.
package fscopy
