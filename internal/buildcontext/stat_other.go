//go:build !linux

package buildcontext

import "io/fs"

// statOf returns the cache key of fi; owners, link counts and devices are
// not known on this system.
func statOf(fi fs.FileInfo, abs string) fileStat {
	return fileStat{key: fileKey{path: abs, size: fi.Size(), mtime: fi.ModTime().UnixNano()}}
}

// xattrs returns nothing on this system.
func xattrs(string) []string { return nil }
