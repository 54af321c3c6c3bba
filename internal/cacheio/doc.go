// Package cacheio exports a build's cache to an OCI registry or an OCI image
// layout directory (--cache-to) and imports it back on another machine
// (--cache-from).
//
// An exported cache is one OCI image manifest. Its config, of media type
// ConfigMediaType, lists the cache records (store.CacheRecord: the key, the
// builder's data, the blobs and chain ids the record needs) and, for every
// layer of the manifest in order, the digest of the blob the store holds. The
// layers are those blobs, gzip-compressed when the store holds them as plain
// tars (as strata stores the layers it builds) and shipped as they are
// otherwise. Cache keys are content hashes (parent key, instruction, build
// args, content digests of the files a step reads, the base image's config
// digest), with nothing of the machine in them, so a record made on one
// machine is valid on every other.
//
// Importing is lazy: Open reads the manifest and the config only; Fetch, which
// the builder calls for a step its own cache lacks, downloads the blobs of
// that one record (decompressed back to the exact blob the exporting store
// held, checked against its digest) and writes the record into the store.
// A build that hits every step downloads just the layers of the steps it hit.
package cacheio
