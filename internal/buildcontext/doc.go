// Package buildcontext is the build context of a Dockerfile build: a
// directory with its .dockerignore applied, the sources a COPY or ADD selects
// from it, and content digests of those sources for the build cache.
//
// The semantics are BuildKit's, where the context is first transferred to the
// builder with the excluded paths left out and COPY then works on what
// arrived:
//
//   - an excluded path does not exist, except a directory that holds a path
//     re-included by a "!" exception (it exists, holding only what is
//     included);
//   - a source is taken relative to the context root: a leading "/" or "./"
//     and any ".." that would climb above the root are dropped ("../a" is
//     "a"), so no source is ever outside the context;
//   - symlinks met while resolving a source, its last component included,
//     are followed, but always inside the context (an absolute target
//     "/etc/passwd" means "<context>/etc/passwd"); symlinks found inside a
//     copied directory are copied as symlinks;
//   - a wildcard (*, ?, [...]) is expanded as filepath.Match does, one path
//     component at a time; a wildcard that matches nothing selects nothing
//     and is not an error (BuildKit's AllowEmptyWildcard), but the directory
//     part before the first wildcard must exist.
//
// Tree holds the rules for any source root (the context, or a stage's root
// for COPY --from); Context adds the .dockerignore file and a cache of file
// content hashes used by Digest.
package buildcontext
