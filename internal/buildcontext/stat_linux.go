package buildcontext

import (
	"io/fs"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// statOf extracts the owner, link count, device and cache key of fi.
func statOf(fi fs.FileInfo, abs string) fileStat {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStat{key: fileKey{path: abs, size: fi.Size(), mtime: fi.ModTime().UnixNano()}}
	}
	return fileStat{
		uid:   st.Uid,
		gid:   st.Gid,
		nlink: uint64(st.Nlink),
		rdev:  uint64(st.Rdev),
		key: fileKey{
			path:  abs,
			size:  st.Size,
			mtime: st.Mtim.Nano(),
			ctime: st.Ctim.Nano(),
			dev:   uint64(st.Dev),
			ino:   st.Ino,
		},
	}
}

// xattrs returns the extended attributes of abs (not following a symlink)
// as sorted "name=value" strings; unreadable attributes are left out.
func xattrs(abs string) []string {
	size, err := unix.Llistxattr(abs, nil)
	if err != nil || size <= 0 {
		return nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(abs, buf)
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range strings.Split(string(buf[:size]), "\x00") {
		if name == "" {
			continue
		}
		vsize, err := unix.Lgetxattr(abs, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vsize)
		vsize, err = unix.Lgetxattr(abs, name, val)
		if err != nil {
			continue
		}
		out = append(out, name+"="+string(val[:vsize]))
	}
	slices.Sort(out)
	return out
}
