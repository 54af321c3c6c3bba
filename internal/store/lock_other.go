//go:build !linux

package store

func (s *Store) lockShared() (func(), error)       { return nil, ErrUnsupported }
func (s *Store) tryLockExclusive() (func(), error) { return nil, ErrUnsupported }
func (s *Store) lockIndex() (func(), error)        { return nil, ErrUnsupported }
