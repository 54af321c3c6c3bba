// Package slim shrinks an image to the files its command uses, and proves
// that the result still answers the same.
//
// [Image] runs each probe (the image's command, other arguments, or the
// command with an HTTP request sent to it) in the sandbox, traced with
// internal/trace, on a throwaway root over the image's layers. What the
// processes named, listed or mapped is kept, with:
//
//   - every symlink on the way to a kept path, and its target;
//   - for a kept #! script, its interpreter; for a kept ELF file, its
//     interpreter and the shared libraries it needs (DT_NEEDED, searched
//     as the dynamic loader does: rpath/runpath, /etc/ld.so.conf, the
//     default directories), recursively, so that a library used only on
//     a path no probe took is not lost;
//   - /etc/passwd, /etc/group and /etc/nsswitch.conf, the working
//     directory and the declared volumes;
//   - the caller's --include trees, --include-bin executables (with what
//     they need) and, with KeepShell, /bin/sh.
//
// The rest is removed from a merged copy of the image's files (hard links
// into the store's layer directories, so nothing is copied), which becomes
// the one layer of a new image on scratch with the original config, a
// history entry and a label that record the original digest, the probes
// and the file counts. The probes then run again on the new image; when an
// exit status, an output or an HTTP answer differs, Image returns a
// [*DiffError] and the caller tags nothing.
package slim
