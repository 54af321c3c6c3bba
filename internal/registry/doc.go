// Package registry pulls images from and pushes images to OCI distribution
// registries with go-containerregistry's remote package.
//
// Pull returns a lazily fetched v1.Image whose layer streams survive dropped
// connections (a broken download is reopened and resumed where it stopped);
// the caller writes it to its store. Push compresses layers that are stored as
// plain tars (the way strata builds them) on the way out, keeps the image
// config (so the image ID and diff_ids stay the same), uploads every blob
// before the manifest, and skips blobs the registry already has.
//
// Credentials come from authn.DefaultKeychain (docker's config.json and its
// credential helpers). Registries on loopback addresses and the ones listed in
// Options.Insecure are reached over plain http. Transient failures (5xx, 429,
// dropped connections, and requests that make no progress for
// Options.IdleTimeout) are retried with exponential backoff; a blob upload
// that fails is retried whole, in a fresh upload session, and the manifest is
// written only once every blob is there.
package registry
