//go:build !linux

package layer

import (
	"context"
	"io"
)

// WriteTar walks dir and writes a deterministic PAX tar of it to w. It needs
// Linux and returns ErrUnsupported elsewhere.
func WriteTar(ctx context.Context, dir string, w io.Writer, opts WriteOptions) (WriteStats, error) {
	return WriteStats{}, ErrUnsupported
}

// Extract reads an uncompressed layer tar from r into dir. It needs Linux and
// returns ErrUnsupported elsewhere.
func Extract(ctx context.Context, r io.Reader, dir string, opts ExtractOptions) (ExtractStats, error) {
	return ExtractStats{}, ErrUnsupported
}
