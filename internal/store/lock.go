package store

import "errors"

var errWouldBlock = errors.New("store: lock is held by another process")

// RLock takes a shared lock on the store (flock LOCK_SH on ROOT/lock) and
// returns the function that releases it. A build holds it for its whole
// run so that GC never deletes the blobs and layer directories it has
// written but not yet named.
func (s *Store) RLock() (unlock func(), err error) {
	return s.lockShared()
}
