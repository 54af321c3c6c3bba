// Package output writes images to the places a build can send them, and
// reads them back from archives.
//
// Every sink has the same verb, Write(ctx, images): a tar of an OCI image
// layout (OCIArchive) and a `docker save` archive that both old (20.10) and
// new (25+) `docker load` accept (DockerArchive). The function forms
// (WriteDockerArchive, WriteOCIArchive) are the same operations for callers
// that hold no sink value.
//
// `strata build -o` goes through ParseSpec (buildx's CSV syntax; unknown
// types and keys are errors) and Exporter.Export, which writes the built
// image, already in the store, to one output: the store itself (type=image,
// optionally pushed), a registry, the final stage's files (local, tar), an
// OCI layout (tar or directory) or a docker archive. Layers stay plain tars
// in the store; pushes and OCI layouts compress them then, through one
// registry.Compressor per build. EarlyPush uploads each layer the build
// writes while later steps still run.
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
