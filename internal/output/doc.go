// Package output writes images to the places a build can send them, and
// reads them back from archives.
//
// Every sink has the same verb, Write(ctx, images): an OCI image layout
// directory (OCILayout), a tar of one (OCIArchive), a `docker save` archive
// that both old (20.10) and new (25+) `docker load` accept (DockerArchive),
// and a registry (Registry). Multi writes to several at once. The function
// forms (WriteDockerArchive, WriteOCILayout, WriteOCIArchive) are the same
// operations for callers that hold no sink value.
//
// A docker archive holds an OCI layout (oci-layout, index.json,
// blobs/sha256/…) with uncompressed layers named by their diff_ids, plus
// docker's manifest.json and the legacy repositories file pointing into it,
// which is exactly what Docker 25 writes; Docker 20.10 follows manifest.json's
// relative paths and loads it too. The archives are deterministic: the same
// images give the same bytes.
//
// ReadArchive reads either generation of docker archive, or a plain OCI
// layout tar, from a file, checking every blob against its digest as it is
// read and refusing entries that would escape the archive.
package output
