package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// buildRichTree makes a tree with every kind of file WriteTar handles.
func buildRichTree(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []struct {
		path string
		mode uint32
		uid  int
	}{
		{"bin", 0o755, 0}, {"etc", 0o755, 0}, {"home", 0o755, 0},
		{"home/user", 0o750, 1000}, {"tmp", 0o1777, 0}, {"usr", 0o755, 0},
		{"usr/bin", 0o755, 0}, {"usr/lib", 0o755, 0}, {"run", 0o755, 0},
		{"dev", 0o755, 0}, {"a", 0o700, 0}, {"z", 0o755, 0}, {"empty-dir", 0o555, 0},
	} {
		p := filepath.Join(dir, d.path)
		must(t, os.Mkdir(p, 0o700))
		must(t, os.Lchown(p, d.uid, d.uid))
		must(t, unix.Chmod(p, d.mode))
	}
	writeFile(t, filepath.Join(dir, "bin/ping"), "ping binary", 0o4755, 0, 0)
	must(t, unix.Lsetxattr(filepath.Join(dir, "bin/ping"), "security.capability", capNetRaw(), 0))
	must(t, unix.Lsetxattr(filepath.Join(dir, "bin/ping"), "user.comment", []byte("pings"), 0))
	must(t, unix.Lsetxattr(filepath.Join(dir, "etc"), "user.dir", []byte("etc dir"), 0))
	writeFile(t, filepath.Join(dir, "etc/empty"), "", 0o644, 0, 0)
	writeFile(t, filepath.Join(dir, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n", 0o644, 0, 0)
	writeFile(t, filepath.Join(dir, "home/user/file"), strings.Repeat("user data\n", 10000), 0o640, 1000, 1000)
	writeFile(t, filepath.Join(dir, "usr/bin/sg"), "setgid", 0o2755, 0, 50)
	writeFile(t, filepath.Join(dir, "a/h1"), "three links", 0o600, 1000, 1000)
	must(t, os.Link(filepath.Join(dir, "a/h1"), filepath.Join(dir, "a/h2")))
	must(t, os.Link(filepath.Join(dir, "a/h1"), filepath.Join(dir, "z/h3")))
	must(t, os.Link(filepath.Join(dir, "bin/ping"), filepath.Join(dir, "usr/bin/ping2")))
	must(t, os.Symlink("usr/lib", filepath.Join(dir, "lib")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "abs")))
	must(t, os.Symlink("/nonexistent/x", filepath.Join(dir, "dangling")))
	must(t, os.Lchown(filepath.Join(dir, "dangling"), 1000, 1000))
	must(t, unix.Mkfifo(filepath.Join(dir, "run/fifo"), 0o620))
	must(t, unix.Mknod(filepath.Join(dir, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, unix.Chmod(filepath.Join(dir, "dev/null"), 0o666))
	must(t, unix.Mknod(filepath.Join(dir, "dev/loop9"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 9))))
	setMtimes(t, dir, time.Unix(1600000000, 0))
	// A few distinct mtimes, with nanoseconds that the tar drops.
	for p, sec := range map[string]int64{"etc/passwd": 1650000000, "home/user": 1660000000, "lib": 1670000000, "bin": 1680000000} {
		ts := []unix.Timespec{{Sec: sec, Nsec: 5e8}, {Sec: sec, Nsec: 5e8}}
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, p), ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

func TestRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(src, 0o755))
	buildRichTree(t, src)
	// A socket is left out of the tar, as docker does.
	l, err := net.Listen("unix", filepath.Join(src, "run/sock"))
	must(t, err)
	defer l.Close()
	want := snapshot(t, src)
	delete(want, "run/sock")

	var buf bytes.Buffer
	ws, err := WriteTar(context.Background(), src, &buf, WriteOptions{Format: MergedFormat})
	if err != nil {
		t.Fatalf("WriteTar: %v", err)
	}
	if ws.Entries != len(want) {
		t.Errorf("WriteTar entries = %d, want %d", ws.Entries, len(want))
	}

	dst := filepath.Join(t.TempDir(), "dst")
	must(t, os.Mkdir(dst, 0o755))
	es, err := Extract(context.Background(), bytes.NewReader(buf.Bytes()), dst, ExtractOptions{Format: MergedFormat})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if got, want := (WriteStats{Entries: es.Entries, Bytes: es.Bytes, Content: es.Content}), ws; got != want {
		t.Errorf("Extract stats = %+v, WriteTar stats = %+v", es, ws)
	}
	got := snapshot(t, dst)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("extracted tree differs (-got +want):\n%s", diff)
	}
	if got["bin/ping"].Xattrs["security.capability"] != string(capNetRaw()) {
		t.Errorf("security.capability lost: %q", got["bin/ping"].Xattrs)
	}
}

func TestWriteTarFormat(t *testing.T) {
	src := t.TempDir()
	buildRichTree(t, src)
	b := writeTarBytes(t, src, WriteOptions{Format: MergedFormat})
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
		if hdr.Uname != "" || hdr.Gname != "" || !hdr.AccessTime.IsZero() || !hdr.ChangeTime.IsZero() {
			t.Errorf("%s: header has names or times it should not: %+v", hdr.Name, hdr)
		}
		if hdr.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: mtime %v not truncated to seconds", hdr.Name, hdr.ModTime)
		}
		for k := range hdr.PAXRecords {
			if !strings.HasPrefix(k, "SCHILY.xattr.") {
				t.Errorf("%s: unexpected PAX record %s", hdr.Name, k)
			}
		}
		switch hdr.Name {
		case "a/h2", "z/h3":
			if hdr.Typeflag != tar.TypeLink || hdr.Linkname != "a/h1" {
				t.Errorf("%s: got type %q link %q, want a hardlink to a/h1", hdr.Name, hdr.Typeflag, hdr.Linkname)
			}
		case "usr/bin/ping2":
			if hdr.Typeflag != tar.TypeLink || hdr.Linkname != "bin/ping" {
				t.Errorf("%s: got type %q link %q, want a hardlink to bin/ping", hdr.Name, hdr.Typeflag, hdr.Linkname)
			}
		case "bin/ping":
			if hdr.Mode != 0o4755 || hdr.PAXRecords["SCHILY.xattr.security.capability"] != string(capNetRaw()) {
				t.Errorf("bin/ping: mode %o records %q", hdr.Mode, hdr.PAXRecords)
			}
		}
	}
	want := []string{
		"a/", "a/h1", "a/h2", "abs", "bin/", "bin/ping", "dangling", "dev/", "dev/loop9", "dev/null",
		"empty-dir/", "etc/", "etc/empty", "etc/passwd", "home/", "home/user/", "home/user/file", "lib",
		"run/", "run/fifo", "tmp/", "usr/", "usr/bin/", "usr/bin/ping2", "usr/bin/sg", "usr/lib/", "z/", "z/h3",
	}
	if diff := cmp.Diff(names, want); diff != "" {
		t.Errorf("entry order (-got +want):\n%s", diff)
	}
}

func TestWriteTarDeterministic(t *testing.T) {
	src := t.TempDir()
	buildRichTree(t, src)
	first := writeTarBytes(t, src, WriteOptions{Format: MergedFormat})
	// Touch every atime (reading does not, on relatime), then write again.
	now := []unix.Timespec{unix.NsecToTimespec(time.Now().UnixNano()), {Nsec: unix.UTIME_OMIT}}
	for p := range snapshot(t, src) {
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, p), now, unix.AT_SYMLINK_NOFOLLOW))
	}
	second := writeTarBytes(t, src, WriteOptions{Format: MergedFormat})
	if !bytes.Equal(first, second) {
		t.Errorf("two WriteTar of one tree differ (%d and %d bytes)", len(first), len(second))
	}
}

// TestWriteTarPinned pins the bytes of a small fixed tree: a change here is
// a change of every layer digest strata makes.
func TestWriteTarPinned(t *testing.T) {
	const want = "3218cb98ab77e7908e7dd6f05a4409a4cfb76b295186ffd0b2f459a115148645"
	src := t.TempDir()
	must(t, os.Chmod(src, 0o755))
	must(t, os.Mkdir(filepath.Join(src, "etc"), 0o755))
	must(t, os.Chmod(filepath.Join(src, "etc"), 0o755))
	writeFile(t, filepath.Join(src, "etc/hostname"), "strata\n", 0o644, 0, 0)
	writeFile(t, filepath.Join(src, "etc/motd"), "welcome\n", 0o600, 1000, 1000)
	must(t, unix.Lsetxattr(filepath.Join(src, "etc/motd"), "user.note", []byte("pinned"), 0))
	must(t, os.Link(filepath.Join(src, "etc/motd"), filepath.Join(src, "motd")))
	must(t, os.Symlink("etc/hostname", filepath.Join(src, "hostname")))
	setMtimes(t, src, time.Unix(1700000000, 123456789))
	sum := sha256.Sum256(writeTarBytes(t, src, WriteOptions{Format: MergedFormat}))
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("sha256 of the pinned tree's tar = %s, want %s", got, want)
	}
}

func TestWriteTarOptions(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a/keep"), "k", 0o644, 0, 0)
	writeFile(t, filepath.Join(src, "b/skip/deep"), "s", 0o644, 0, 0)
	writeFile(t, filepath.Join(src, "c"), "c", 0o644, 0, 0)
	setMtimes(t, src, time.Unix(2000000000, 0))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, "c"),
		[]unix.Timespec{{Sec: 1000}, {Sec: 1000}}, 0))
	clamp := time.Unix(1500000000, 999)
	var seen []string
	b := writeTarBytes(t, src, WriteOptions{
		Format: MergedFormat,
		Clamp:  &clamp,
		Skip: func(rel string) bool {
			seen = append(seen, rel)
			return rel == "b"
		},
	})
	if diff := cmp.Diff(seen, []string{"a", "a/keep", "b", "c"}); diff != "" {
		t.Errorf("paths given to Skip (-got +want):\n%s", diff)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	got := map[string]int64{}
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		got[hdr.Name] = hdr.ModTime.Unix()
	}
	want := map[string]int64{"a/": 1500000000, "a/keep": 1500000000, "c": 1000}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("entries and mtimes (-got +want):\n%s", diff)
	}
}

func TestWriteTarRefusesWhiteoutNames(t *testing.T) {
	for _, f := range []Format{DiffFormat, MergedFormat} {
		t.Run(f.String(), func(t *testing.T) {
			src := t.TempDir()
			writeFile(t, filepath.Join(src, "d/.wh.foo"), "x", 0o644, 0, 0)
			_, err := WriteTar(context.Background(), src, &bytes.Buffer{}, WriteOptions{Format: f})
			if err == nil || !strings.Contains(err.Error(), "d/.wh.foo: a file named .wh.* cannot be stored") {
				t.Errorf("WriteTar error = %v, want one about d/.wh.foo", err)
			}
		})
	}
}

// buildUpper makes an overlay upperdir: a whiteout for etc/removed (and a
// second whiteout hardlinked to it, as the kernel makes them), an opaque
// directory, and plain files.
func buildUpper(t *testing.T, dir string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	must(t, unix.Mknod(filepath.Join(dir, "etc/removed"), unix.S_IFCHR, 0))
	must(t, os.Link(filepath.Join(dir, "etc/removed"), filepath.Join(dir, "etc/removed2")))
	must(t, os.MkdirAll(filepath.Join(dir, "opq"), 0o755))
	must(t, unix.Lsetxattr(filepath.Join(dir, "opq"), opaqueXattr, []byte("y"), 0))
	writeFile(t, filepath.Join(dir, "opq/new"), "new", 0o644, 0, 0)
	writeFile(t, filepath.Join(dir, "keep"), "new keep", 0o644, 0, 0)
	setMtimes(t, dir, time.Unix(1700000000, 0))
}

func TestDiffFormat(t *testing.T) {
	upper := t.TempDir()
	buildUpper(t, upper)
	b := writeTarBytes(t, upper, WriteOptions{Format: DiffFormat})
	want := []string{"etc/", "etc/.wh.removed", "etc/.wh.removed2", "keep", "opq/", "opq/.wh..wh..opq", "opq/new"}
	if diff := cmp.Diff(tarNames(t, b), want); diff != "" {
		t.Errorf("entries (-got +want):\n%s", diff)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if strings.HasPrefix(filepath.Base(hdr.Name), ".wh.") {
			got := [6]int64{int64(hdr.Typeflag), hdr.Mode, int64(hdr.Uid), int64(hdr.Gid), hdr.Size, hdr.ModTime.Unix()}
			if got != [6]int64{tar.TypeReg, 0, 0, 0, 0, 0} {
				t.Errorf("%s: whiteout header (type, mode, uid, gid, size, mtime) = %v, want zeroed", hdr.Name, got)
			}
		}
	}

	t.Run("extract diff", func(t *testing.T) {
		dst := t.TempDir()
		if _, err := Extract(context.Background(), bytes.NewReader(b), dst, ExtractOptions{Format: DiffFormat}); err != nil {
			t.Fatalf("Extract: %v", err)
		}
		got := snapshot(t, dst)
		for _, p := range []string{"etc/removed", "etc/removed2"} {
			if n := got[p]; n.Type != "char" || n.Rdev != 0 {
				t.Errorf("%s = %+v, want a 0:0 character device", p, n)
			}
		}
		if !got["opq"].Opaque {
			t.Errorf("opq is not opaque: %+v", got["opq"])
		}
		if n := got["opq/new"]; n.Type != "file" || n.Size != 3 {
			t.Errorf("opq/new = %+v", n)
		}
		// The extracted layer dir writes back to the same tar.
		again := writeTarBytes(t, dst, WriteOptions{Format: DiffFormat})
		if !bytes.Equal(again, b) {
			t.Errorf("WriteTar of the extracted layer differs from the original tar")
		}
	})

	lower := func(t *testing.T) string {
		dst := t.TempDir()
		writeFile(t, filepath.Join(dst, "etc/removed"), "old", 0o644, 0, 0)
		writeFile(t, filepath.Join(dst, "etc/other"), "other", 0o644, 0, 0)
		writeFile(t, filepath.Join(dst, "opq/old"), "old", 0o644, 0, 0)
		writeFile(t, filepath.Join(dst, "opq/sub/deep"), "deep", 0o644, 0, 0)
		writeFile(t, filepath.Join(dst, "keep"), "old keep", 0o644, 0, 0)
		return dst
	}
	t.Run("extract merged", func(t *testing.T) {
		dst := lower(t)
		if _, err := Extract(context.Background(), bytes.NewReader(b), dst, ExtractOptions{Format: MergedFormat}); err != nil {
			t.Fatalf("Extract: %v", err)
		}
		got := snapshot(t, dst)
		if diff := cmp.Diff(slices.Sorted(maps.Keys(got)), []string{"etc", "etc/other", "keep", "opq", "opq/new"}); diff != "" {
			t.Errorf("tree after applying the layer (-got +want):\n%s", diff)
		}
		if got["keep"].Size != int64(len("new keep")) {
			t.Errorf("keep = %+v, want the layer's content", got["keep"])
		}
	})
	t.Run("opaque marker after children", func(t *testing.T) {
		dst := lower(t)
		tb := buildTar(t, []tarEntry{
			{hdr: tar.Header{Name: "opq/", Typeflag: tar.TypeDir, Mode: 0o755}},
			{hdr: tar.Header{Name: "opq/new"}, body: "n"},
			{hdr: tar.Header{Name: "opq/sub/", Typeflag: tar.TypeDir, Mode: 0o755}},
			{hdr: tar.Header{Name: "opq/sub/n2"}, body: "n2"},
			{hdr: tar.Header{Name: "opq/.wh..wh..opq"}},
		})
		if _, err := Extract(context.Background(), bytes.NewReader(tb), dst, ExtractOptions{Format: MergedFormat}); err != nil {
			t.Fatalf("Extract: %v", err)
		}
		if diff := cmp.Diff(listDir(t, filepath.Join(dst, "opq")), []string{"new", "sub"}); diff != "" {
			t.Errorf("opq (-got +want):\n%s", diff)
		}
		if diff := cmp.Diff(listDir(t, filepath.Join(dst, "opq/sub")), []string{"n2"}); diff != "" {
			t.Errorf("opq/sub (-got +want):\n%s", diff)
		}
	})
}
