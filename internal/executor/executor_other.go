//go:build !linux

package executor

import (
	"context"
	"os"
)

// Init returns at once: there is no sandbox on this system.
func Init() {}

// Run returns ErrUnsupported.
func Run(ctx context.Context, spec RunSpec) (int, error) { return -1, ErrUnsupported }

// Trace returns ErrUnsupported.
func Trace(ctx context.Context, spec RunSpec, tr TraceSpec) (Traced, error) {
	return Traced{Exit: -1}, ErrUnsupported
}

// Do returns ErrUnsupported.
func Do(ctx context.Context, spec DoSpec) error { return ErrUnsupported }

// ForwardedSignals returns nil: there is no sandbox to forward signals to.
func ForwardedSignals() []os.Signal { return nil }

// Probe returns ErrUnsupported.
func Probe(ctx context.Context) error { return ErrUnsupported }
