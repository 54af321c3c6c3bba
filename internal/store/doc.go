// Package store is strata's local image store: content-addressed blobs in an
// OCI image layout, image names, extracted layers ready to be used as overlay
// lowerdirs, build cache records, locking between processes, and garbage
// collection.
//
// The on-disk layout under the root is:
//
//	oci-layout            {"imageLayoutVersion":"1.0.0"}
//	index.json            OCI index; one manifest descriptor per image name with the
//	                      annotation org.opencontainers.image.ref.name = the full
//	                      normalised name, plus io.strata.id (config digest),
//	                      io.strata.size (uncompressed bytes) and io.strata.created
//	blobs/sha256/<hex>    manifests, configs and layers
//	layers/<chain hex>/   diff/ (the layer in overlay format) and diffid
//	sizes/<hex>           cached uncompressed size of a layer blob (a cache, rebuilt on demand)
//	cache/<key>.json      build cache records
//	tmp/                  temporary files and directories, same filesystem as the rest
//	lock                  flock: LOCK_SH while using the store, LOCK_EX for GC
//	index.lock            flock: LOCK_EX around every read-modify-write of index.json
//
// The root is a valid OCI image layout: go-containerregistry's layout.FromPath
// reads it. Several processes may use one store at once: blobs and layer
// directories are written in tmp/ and renamed in, index.json is rewritten under
// index.lock, and GC runs only when no process holds the shared lock.
package store
