//go:build !linux

package solver

// secretBase returns fallback: only Linux has a tmpfs strata can rely on.
func secretBase(fallback string) string { return fallback }
