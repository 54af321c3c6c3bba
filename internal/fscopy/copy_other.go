//go:build !linux

package fscopy

import "context"

// Copy returns ErrUnsupported on this system.
func Copy(ctx context.Context, root string, a Action) error { return ErrUnsupported }

// MkdirAll returns ErrUnsupported on this system.
func MkdirAll(root, dir string, owner *Owner) error { return ErrUnsupported }
