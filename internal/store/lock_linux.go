package store

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// flockFile takes a flock(2) lock of kind how (unix.LOCK_SH or LOCK_EX,
// optionally |LOCK_NB) on ROOT/name. A non-blocking attempt that would
// block returns errWouldBlock.
func (s *Store) flockFile(name string, how int) (func(), error) {
	f, err := os.OpenFile(s.path(name), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errWouldBlock
		}
		return nil, fmt.Errorf("locking %s: %w", s.path(name), err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

func (s *Store) lockShared() (func(), error) { return s.flockFile("lock", unix.LOCK_SH) }
func (s *Store) tryLockExclusive() (func(), error) {
	return s.flockFile("lock", unix.LOCK_EX|unix.LOCK_NB)
}
func (s *Store) lockIndex() (func(), error) { return s.flockFile("index.lock", unix.LOCK_EX) }
