package solver

import (
	"errors"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/store"
)

// pendingBlobs are the layer blobs whose files are still being synced and
// renamed into the store while the build goes on (store.WriteLayerBlobAsync):
// a step needs the layer's dir and diff_id, not its blob, so the next step
// does not wait for the disk. Everything that reads blobs (the image, the
// outputs, --cache-to) comes after wait.
type pendingBlobs struct {
	mu    sync.Mutex
	blobs []*store.PendingBlob
	all   map[v1.Hash]bool // every blob ever added
	calls sync.WaitGroup   // the written callbacks under way
}

// add keeps p, and calls written once its blob is in the store.
func (pb *pendingBlobs) add(p *store.PendingBlob, written func()) {
	pb.mu.Lock()
	pb.blobs = append(pb.blobs, p)
	if pb.all == nil {
		pb.all = map[v1.Hash]bool{}
	}
	pb.all[p.Digest] = true
	pb.mu.Unlock()
	if written != nil {
		pb.calls.Go(func() {
			if p.Wait() == nil {
				written()
			}
		})
	}
}

// has reports whether the blob h was added: it is in the store, or will be
// by the end of the build (or the build fails).
func (pb *pendingBlobs) has(h v1.Hash) bool {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.all[h]
}

// hasBlob reports whether the store has the blob h, or will have it by the
// end of the build (or the build fails): a record may name a blob still
// being synced, since GetCache counts a record whose blobs are missing as
// absent.
func (b *builder) hasBlob(h v1.Hash) bool {
	return b.blobs.has(h) || b.st.HasBlob(h)
}

// wait returns once every blob added so far is in the store and its
// written callback has returned (the sink may be closed after), with the
// errors of the blobs that failed.
func (pb *pendingBlobs) wait() error {
	pb.mu.Lock()
	blobs := pb.blobs
	pb.blobs = nil
	pb.mu.Unlock()
	var errs []error
	for _, p := range blobs {
		errs = append(errs, p.Wait())
	}
	pb.calls.Wait()
	return errors.Join(errs...)
}
