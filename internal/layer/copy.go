package layer

import (
	"context"
	"errors"
	"io"
)

// copyBuf copies src to dst through buf (so that neither side's ReadFrom or
// WriteTo picks a small buffer of its own) and stops when ctx is done.
func copyBuf(ctx context.Context, dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	var written int64
	for {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			written += int64(w)
			if werr != nil {
				return written, werr
			}
		}
		if errors.Is(rerr, io.EOF) {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}
