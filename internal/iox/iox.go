// Package iox holds the small io wrappers several packages stream through:
// byte counters and a reader that stops when its context ends.
package iox

import (
	"context"
	"io"
)

// CountWriter counts the bytes written through it to W (discarded when W is
// nil).
type CountWriter struct {
	W io.Writer
	N int64
}

// Write implements io.Writer.
func (c *CountWriter) Write(p []byte) (int, error) {
	if c.W == nil {
		c.N += int64(len(p))
		return len(p), nil
	}
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}

// CountReader counts the bytes read through it from R.
type CountReader struct {
	R io.Reader
	N int64
}

// Read implements io.Reader.
func (c *CountReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// ContextReader reads from R until Ctx ends, so that a long copy stops with
// its context's error.
type ContextReader struct {
	Ctx context.Context
	R   io.Reader
}

// Read implements io.Reader.
func (c ContextReader) Read(p []byte) (int, error) {
	if err := c.Ctx.Err(); err != nil {
		return 0, err
	}
	return c.R.Read(p)
}
