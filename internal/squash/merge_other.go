//go:build !linux

package squash

import "context"

// MergeOptions tells Merge which layers to merge onto which.
type MergeOptions struct {
	Lower []string
	Upper []string
}

// MergeStats counts what Merge made.
type MergeStats struct {
	Entries   int
	Whiteouts int
}

// Merge needs Linux (overlay-format layer directories).
func Merge(ctx context.Context, dst string, opts MergeOptions) (MergeStats, error) {
	return MergeStats{}, ErrUnsupported
}
