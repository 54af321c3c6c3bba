package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestExtractParallelOrder checks that what the parallel writers create is
// what writing in order creates, where later entries depend on earlier
// files: a file, then a whiteout of it; a file, then a hardlink to it; a
// file written twice; many directories of small files; owners, modes,
// mtimes and xattrs set through the descriptor.
func TestExtractParallelOrder(t *testing.T) {
	file := func(name, body string) tarEntry {
		return tarEntry{hdr: tar.Header{Name: name, Mode: 0o4750, Uid: 1000, Gid: 50, PAXRecords: map[string]string{xattrPAX + "user.k": "v"}}, body: body}
	}
	var entries []tarEntry
	for d := range 8 {
		entries = append(entries, tarEntry{hdr: tar.Header{Name: fmt.Sprintf("d%d/", d), Typeflag: tar.TypeDir, Mode: 0o755}})
		for f := range 40 {
			entries = append(entries, file(fmt.Sprintf("d%d/f%d", d, f), fmt.Sprintf("%d-%d", d, f)))
		}
	}
	entries = append(entries,
		file("d0/gone", "smuggled"), tarEntry{hdr: tar.Header{Name: "d0/.wh.gone"}},
		file("d1/twice", "first"), file("d1/twice", "second"),
		tarEntry{hdr: tar.Header{Name: "d2/link", Typeflag: tar.TypeLink, Linkname: "d3/f7"}},
	)
	tarball := buildTar(t, entries)
	for _, format := range []Format{DiffFormat, MergedFormat} {
		t.Run(fmt.Sprint(format), func(t *testing.T) {
			_, root := extractRoot(t)
			if _, err := Extract(t.Context(), bytes.NewReader(tarball), root, ExtractOptions{Format: format}); err != nil {
				t.Fatal(err)
			}
			for d := range 8 {
				for f := range 40 {
					p := filepath.Join(root, fmt.Sprintf("d%d/f%d", d, f))
					assertFile(t, p, fmt.Sprintf("%d-%d", d, f))
					var st unix.Stat_t
					must(t, unix.Lstat(p, &st))
					if st.Mode&0o7777 != 0o4750 || st.Uid != 1000 || st.Gid != 50 {
						t.Fatalf("%s: mode %o owner %d:%d, want 4750 1000:50", p, st.Mode&0o7777, st.Uid, st.Gid)
					}
					v := make([]byte, 8)
					if n, err := unix.Lgetxattr(p, "user.k", v); err != nil || string(v[:n]) != "v" {
						t.Fatalf("%s: user.k = %q, %v", p, v[:n], err)
					}
				}
			}
			var st unix.Stat_t
			err := unix.Lstat(filepath.Join(root, "d0/gone"), &st)
			switch format {
			case DiffFormat:
				if err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
					t.Errorf("d0/gone: %v, mode %o; want the 0:0 whiteout that replaced the file", err, st.Mode)
				}
			case MergedFormat:
				assertMissing(t, filepath.Join(root, "d0/gone"))
			}
			assertFile(t, filepath.Join(root, "d1/twice"), "second")
			var a, b unix.Stat_t
			must(t, unix.Lstat(filepath.Join(root, "d2/link"), &a))
			must(t, unix.Lstat(filepath.Join(root, "d3/f7"), &b))
			if a.Ino != b.Ino {
				t.Error("d2/link is not a hardlink of d3/f7")
			}
		})
	}
}

// TestExtractParallelFailure checks that a file a writer cannot create (a
// full disk: a 64 kB tmpfs) fails the extraction with the entry's name.
func TestExtractParallelFailure(t *testing.T) {
	_, root := extractRoot(t)
	must(t, unix.Mount("tmpfs", root, "tmpfs", 0, "size=64k"))
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	var entries []tarEntry
	for d := range 4 {
		for f := range 20 {
			entries = append(entries, tarEntry{hdr: tar.Header{Name: fmt.Sprintf("d%d/f%d", d, f), Mode: 0o644}, body: string(bytes.Repeat([]byte("x"), 4096))})
		}
	}
	_, err := Extract(t.Context(), bytes.NewReader(buildTar(t, entries)), root, ExtractOptions{})
	if err == nil || !errors.Is(err, unix.ENOSPC) || !strings.Contains(err.Error(), `tar entry "d`) {
		t.Fatalf("extracting 320 kB into 64 kB: %v; want ENOSPC naming the entry", err)
	}
}
