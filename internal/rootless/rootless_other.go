//go:build !linux

package rootless

import "errors"

// ErrUnsupported is returned by Enter and Check on systems other than Linux.
var ErrUnsupported = errors.New("rootless: user namespaces need Linux")

// Enter returns nil; strata needs Linux in any case.
func Enter(opts Options) error { return nil }

// Check returns ErrUnsupported.
func Check() (*Setup, error) { return nil, ErrUnsupported }

// InUserNamespace returns false.
func InUserNamespace() bool { return false }

// OverlayXattrPrefix returns "trusted.overlay.".
func OverlayXattrPrefix() string { return "trusted.overlay." }

// EnterOwn returns ErrUnsupported.
func EnterOwn(opts Options, why string) error { return ErrUnsupported }

// OwnNote returns false and "".
func OwnNote() (entered bool, why string) { return false, "" }
