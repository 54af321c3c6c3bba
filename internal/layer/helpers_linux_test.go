package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// node is what a test compares about one path of a tree.
type node struct {
	Type   string
	Mode   uint32 // permission bits with setuid, setgid and sticky
	UID    int
	GID    int
	Size   int64
	Digest string // of the content, for regular files
	Link   string // symlink target
	Rdev   uint64
	Xattrs map[string]string
	Mtime  int64  // seconds; directories and files alike
	LinkTo string // for hardlinks, the first path of the inode's group
	Opaque bool   // trusted.overlay.opaque=y, kept out of Xattrs
}

// snapshot reads the tree at dir into a map keyed by slash-separated
// relative paths (the root is not included).
func snapshot(t testing.TB, dir string) map[string]node {
	t.Helper()
	out := make(map[string]node)
	inodes := make(map[uint64]string)
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		n := node{
			Mode:  st.Mode & 0o7777,
			UID:   int(st.Uid),
			GID:   int(st.Gid),
			Mtime: st.Mtim.Sec,
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			n.Type = "file"
			n.Size = st.Size
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			n.Digest = hex.EncodeToString(sum[:8])
		case unix.S_IFDIR:
			n.Type = "dir"
		case unix.S_IFLNK:
			n.Type = "symlink"
			n.Link, _ = os.Readlink(p)
		case unix.S_IFIFO:
			n.Type = "fifo"
		case unix.S_IFCHR:
			n.Type = "char"
			n.Rdev = st.Rdev
		case unix.S_IFBLK:
			n.Type = "block"
			n.Rdev = st.Rdev
		}
		if n.Type != "dir" && st.Nlink > 1 {
			if first, ok := inodes[st.Ino]; ok {
				n.LinkTo = first
			} else {
				inodes[st.Ino] = rel
			}
		}
		names, err := listXattrs(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			v, _, err := getXattr(p, name)
			if err != nil {
				t.Fatal(err)
			}
			if name == opaqueXattr && string(v) == "y" {
				n.Opaque = true
				continue
			}
			if n.Xattrs == nil {
				n.Xattrs = make(map[string]string)
			}
			n.Xattrs[name] = string(v)
		}
		out[filepath.ToSlash(rel)] = n
	}
	return out
}

// capNetRaw is a vfs_cap_data revision 2 value granting cap_net_raw+ep, as
// setcap writes it.
func capNetRaw() []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000001) // revision 2, effective
	binary.LittleEndian.PutUint32(b[4:], 1<<unix.CAP_NET_RAW)
	return b
}

// writeFile creates a file with content, mode and owner.
func writeFile(t testing.TB, p string, content string, mode os.FileMode, uid, gid int) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(content), 0o600))
	must(t, os.Lchown(p, uid, gid))
	must(t, unix.Chmod(p, uint32(mode)))
}

// setMtimes sets every mtime (and atime) under dir, dir included, to ts.
func setMtimes(t testing.TB, dir string, ts time.Time) {
	t.Helper()
	spec := []unix.Timespec{unix.NsecToTimespec(ts.UnixNano()), unix.NsecToTimespec(ts.UnixNano())}
	var paths []string
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	// Children first, so that setting a child does not touch a parent
	// afterwards (it does not, but keep it obviously right).
	for i := len(paths) - 1; i >= 0; i-- {
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], spec, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// tarEntry is one entry of a tar built by a test.
type tarEntry struct {
	hdr  tar.Header
	body string
}

// buildTar writes entries as a tar.
func buildTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if hdr.ModTime.IsZero() {
			hdr.ModTime = time.Unix(1700000000, 0)
		}
		must(t, tw.WriteHeader(&hdr))
		if hdr.Typeflag == tar.TypeReg {
			_, err := io.WriteString(tw, e.body)
			must(t, err)
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}

// writeTarBytes runs WriteTar into memory.
func writeTarBytes(t testing.TB, dir string, opts WriteOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := WriteTar(context.Background(), dir, &buf, opts); err != nil {
		t.Fatalf("WriteTar(%s): %v", dir, err)
	}
	return buf.Bytes()
}

// tarNames lists the entry names of a tar.
func tarNames(t testing.TB, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		must(t, err)
		names = append(names, hdr.Name)
	}
}

// listDir returns the names in dir, sorted.
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
