// Package squash merges the top layers of an image into one.
//
// An image is a stack of layers, and a file that one layer adds and a later
// one deletes is still pulled with the first. Squashing layers From..end
// replaces them with one layer that holds only what their merged view adds
// to, changes in, and deletes from layers 0..From-1:
//
//   - a file written and later deleted within the merged layers vanishes;
//   - a file of the kept layers that the merged layers delete stays deleted:
//     the squashed layer carries its whiteout;
//   - a directory that the merged layers replace (an opaque directory, or one
//     deleted and made again) is opaque in the squashed layer when the kept
//     layers have a directory there.
//
// With From = 0 (squash-all) the result is one layer of the image's whole
// filesystem, as an export and import would make, but the image config
// (CMD, ENTRYPOINT, ENV, ...) is kept.
//
// [Merge] works on extracted layer directories in overlay format (the store's
// layers/<chain>/diff): the merged tree is made of hard links to their files,
// so no file content is copied. The tree is then written with
// layer.WriteTar, so the squashed layer is deterministic: the same input
// layers give the same diff_id. [Image] does the whole job against a store:
// merge, blob, layer directory, config (rootfs.diff_ids and history: every
// merged history entry is kept, marked empty_layer except the last one with a
// layer) and manifest.
package squash
