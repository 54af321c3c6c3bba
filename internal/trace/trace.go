package trace

import "errors"

// ErrUnsupported is returned by Follow where the tracer is not available
// (systems other than Linux on amd64).
var ErrUnsupported = errors.New("trace: tracing needs Linux on amd64")

// Result is what Follow saw.
type Result struct {
	// Exit is the first process's exit status, 128+signal when a signal
	// killed it.
	Exit int
	// Paths are the absolute paths the processes named, as they saw them
	// (symlinks not resolved), sorted, without duplicates.
	Paths []string
}
