package store

import (
	"os"
	"syscall"
)

// inodeOf returns the device and inode number of fi.
func inodeOf(fi os.FileInfo, _ string) inodeKey {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return inodeKey{dev: uint64(st.Dev), ino: st.Ino}
	}
	return inodeKey{}
}
