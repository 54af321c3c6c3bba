//go:build !(linux && amd64)

package trace

// Follow returns ErrUnsupported on this system.
func Follow(pid int) (Result, error) { return Result{}, ErrUnsupported }
