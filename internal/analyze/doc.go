// Package analyze tells where the bytes of an image went and what to do about
// them.
//
// Analyze reads every layer tar of an image once, in parallel, and then
// replays them in order over a model of the merged filesystem. A path written
// by layer i and later deleted (a ".wh." whiteout, an opaque directory, or a
// directory replaced by a file) or written again by layer j > i is wasted: its
// bytes are still pulled with layer i, yet the running container never sees
// them. The sum of those bytes is the image's wasted size; the efficiency is
// the share of the file bytes of all layers that the final filesystem keeps.
//
// From the same replay come the per-layer table (one row per history entry,
// as docker history shows, oldest first with the running image size), the
// largest files and directories of the final filesystem, and findings: later
// layers that delete earlier files, package-manager caches left behind,
// compilers and headers in the final image, files written by several layers
// and layer counts that near overlayfs's limit. Each finding names its layer,
// its Dockerfile line when a Dockerfile is given, and the fix.
//
// The package is data only: the command line renders the Report as text, JSON
// or an HTML page, and Check turns CI thresholds into reasons to fail.
package analyze
