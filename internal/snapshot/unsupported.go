//go:build !linux

package snapshot

import (
	"context"
	"errors"
)

// ErrUnsupported is returned on systems other than Linux.
var ErrUnsupported = errors.New("snapshot: snapshots need Linux")

// Native is the copy-based snapshotter; it needs Linux.
type Native struct {
	dir string
}

var _ Snapshotter = (*Native)(nil)

type index struct{}

// Prepare returns ErrUnsupported.
func (n *Native) Prepare(context.Context, []string) (*Snapshot, error) { return nil, ErrUnsupported }

// View returns ErrUnsupported.
func (n *Native) View(context.Context, []string) (*Snapshot, error) { return nil, ErrUnsupported }

// Commit returns ErrUnsupported.
func (n *Native) Commit(context.Context, *Snapshot) (string, error) { return "", ErrUnsupported }

// Remove removes what is left of s.
func (n *Native) Remove(s *Snapshot) error { return removeSnapshot(s) }

// Apply returns ErrUnsupported.
func (m Mount) Apply(string) error { return ErrUnsupported }

func probeOverlay(string) error { return ErrUnsupported }
