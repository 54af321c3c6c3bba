package store

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// inodeOf returns the device and inode number of fi.
func inodeOf(fi os.FileInfo, _ string) inodeKey {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return inodeKey{dev: uint64(st.Dev), ino: st.Ino}
	}
	return inodeKey{}
}

// startWriteback starts writing the n bytes of f at off to the disk,
// without waiting: the fsync that ends the file then finds most of it
// written.
func startWriteback(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
