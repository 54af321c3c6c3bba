package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// extractRoot makes <tmp>/root and returns tmp and root.
func extractRoot(t *testing.T) (string, string) {
	t.Helper()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	must(t, os.Mkdir(root, 0o755))
	return tmp, root
}

// assertOnlyRoot fails unless tmp holds nothing but root.
func assertOnlyRoot(t *testing.T, tmp string) {
	t.Helper()
	if diff := cmp.Diff(listDir(t, tmp), []string{"root"}); diff != "" {
		t.Errorf("something was written beside the extraction root (-got +want):\n%s", diff)
	}
}

func assertMissing(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (err %v), want it absent", p, err)
	}
}

func assertFile(t *testing.T, p, content string) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if !fi.Mode().IsRegular() {
		t.Errorf("%s is %v, want a regular file", p, fi.Mode())
		return
	}
	b, err := os.ReadFile(p)
	must(t, err)
	if string(b) != content {
		t.Errorf("%s holds %q, want %q", p, b, content)
	}
}

func TestExtractHostile(t *testing.T) {
	// Names a broken extractor would create on the host.
	hostEtc := "/etc/strata-layer-test-evil"
	hostTmp := filepath.Join(os.TempDir(), "strata-layer-test-evil-up")
	sym := func(name, target string) tarEntry {
		return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
	}
	hard := func(name, target string) tarEntry {
		return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target}}
	}
	file := func(name, body string) tarEntry { return tarEntry{hdr: tar.Header{Name: name}, body: body} }
	dir := func(name string) tarEntry {
		return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
	}

	tests := []struct {
		name    string
		format  Format
		before  func(t *testing.T, root string)
		entries []tarEntry
		wantErr string // substring; "" means success
		check   func(t *testing.T, root string)
	}{
		{
			name:    "dotdot",
			entries: []tarEntry{file("../escape", "x")},
			wantErr: `tar entry "../escape": path escapes the extraction root`,
		},
		{
			name:    "dotdot inside a name",
			entries: []tarEntry{file("a/../../b", "x")},
			wantErr: `entry "a/../../b": path escapes the extraction root`,
		},
		{
			name:    "dotdot after a slash",
			entries: []tarEntry{file("/../b", "x")},
			wantErr: `entry "/../b": path escapes the extraction root`,
		},
		{
			name:    "dotdot that stays inside",
			entries: []tarEntry{file("a/../b", "b")},
			check:   func(t *testing.T, root string) { assertFile(t, filepath.Join(root, "b"), "b") },
		},
		{
			name:    "absolute name is taken as relative",
			entries: []tarEntry{file("/abs/file", "abs")},
			check:   func(t *testing.T, root string) { assertFile(t, filepath.Join(root, "abs/file"), "abs") },
		},
		{
			name:    "write through a symlink to /",
			entries: []tarEntry{sym("link", "/"), file("link"+hostEtc, "evil")},
			check: func(t *testing.T, root string) {
				assertFile(t, filepath.Join(root, hostEtc), "evil")
				assertMissing(t, hostEtc)
			},
		},
		{
			name:    "write through a relative symlink that climbs",
			entries: []tarEntry{sym("up", "../../.."), file("up/"+filepath.Base(hostTmp), "evil")},
			check: func(t *testing.T, root string) {
				assertFile(t, filepath.Join(root, filepath.Base(hostTmp)), "evil")
				assertMissing(t, hostTmp)
			},
		},
		{
			name:    "directory through a symlink",
			entries: []tarEntry{sym("d", "/etc"), dir("d/strata-layer-test-evil/"), file("d/strata-layer-test-evil/f", "x")},
			check: func(t *testing.T, root string) {
				assertFile(t, filepath.Join(root, "etc/strata-layer-test-evil/f"), "x")
				assertMissing(t, hostEtc)
			},
		},
		{
			name:    "file replaces a symlink instead of writing through it",
			entries: []tarEntry{sym("evil", "/etc/passwd"), file("evil", "mine")},
			check:   func(t *testing.T, root string) { assertFile(t, filepath.Join(root, "evil"), "mine") },
		},
		{
			name:    "symlink loop",
			entries: []tarEntry{sym("loop", "loop"), file("loop/x", "x")},
			wantErr: `entry "loop/x"`,
		},
		{
			name:    "symlink to a file as a parent",
			entries: []tarEntry{file("f", "f"), sym("s", "f"), file("s/x", "x")},
			wantErr: `entry "s/x"`,
		},
		{
			name:    "hardlink out of the root",
			entries: []tarEntry{hard("h", "../../etc/passwd")},
			wantErr: `entry "h": hardlink target "../../etc/passwd" escapes the extraction root`,
		},
		{
			name:    "hardlink to a name not in the tar",
			before:  func(t *testing.T, root string) { writeFile(t, filepath.Join(root, "etc/passwd"), "old", 0o644, 0, 0) },
			entries: []tarEntry{hard("h", "etc/passwd")},
			wantErr: `entry "h": hardlink target "etc/passwd" is not an earlier entry of this layer`,
		},
		{
			name:    "hardlink to a later entry",
			entries: []tarEntry{hard("h", "later"), file("later", "x")},
			wantErr: `entry "h": hardlink target "later" is not an earlier entry`,
		},
		{
			name:    "hardlink through a symlink to the host",
			entries: []tarEntry{sym("hostetc", "/etc"), hard("h", "hostetc/passwd")},
			wantErr: `entry "h": hardlink target "hostetc/passwd" is not an earlier entry`,
		},
		{
			name:    "symlink to itself through the root",
			entries: []tarEntry{sym("etc", "/etc"), file("etc/x", "x")},
			wantErr: `entry "etc/x": resolving parent "etc"`,
		},
		{
			name:    "hardlink to a directory",
			entries: []tarEntry{dir("d/"), hard("h", "d")},
			wantErr: `entry "h": hardlink target "d" is a directory`,
		},
		{
			name:    "absolute hardlink to an earlier entry stays inside",
			entries: []tarEntry{file("etc/passwd", "mine"), hard("h", "/etc/passwd")},
			check: func(t *testing.T, root string) {
				var a, b unix.Stat_t
				must(t, unix.Lstat(filepath.Join(root, "etc/passwd"), &a))
				must(t, unix.Lstat(filepath.Join(root, "h"), &b))
				if a.Ino != b.Ino {
					t.Errorf("h is not a hardlink of etc/passwd inside the root")
				}
			},
		},
		{
			name:   "non-empty .wh. file in merged format is a whiteout",
			format: MergedFormat,
			before: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "foo/inner"), "old", 0o644, 0, 0)
				writeFile(t, filepath.Join(root, "bar"), "old", 0o644, 0, 0)
			},
			entries: []tarEntry{file(".wh.foo", "not empty"), file(".wh.bar", "")},
			check: func(t *testing.T, root string) {
				if diff := cmp.Diff(listDir(t, root), []string(nil)); diff != "" {
					t.Errorf("root after whiteouts (-got +want):\n%s", diff)
				}
			},
		},
		{
			name:    "whiteout of something missing",
			format:  MergedFormat,
			entries: []tarEntry{file("nodir/.wh.x", ""), file(".wh.y", "")},
			check: func(t *testing.T, root string) {
				if diff := cmp.Diff(listDir(t, root), []string(nil)); diff != "" {
					t.Errorf("root after whiteouts (-got +want):\n%s", diff)
				}
			},
		},
		{
			name:   "whiteout through a symlink in merged format",
			format: MergedFormat,
			before: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "etc/passwd"), "", 0o644, 0, 0)
				must(t, os.Symlink("/etc", filepath.Join(root, "e")))
			},
			entries: []tarEntry{file("e/.wh.passwd", "")},
			check: func(t *testing.T, root string) {
				assertMissing(t, filepath.Join(root, "etc/passwd"))
				if _, err := os.Stat("/etc/passwd"); err != nil {
					t.Errorf("host /etc/passwd: %v", err)
				}
			},
		},
		{
			name:    "unknown AUFS whiteout",
			entries: []tarEntry{file("a/.wh..wh.bogus", "")},
			wantErr: `tar entry "a/.wh..wh.bogus": unknown whiteout form`,
		},
		{
			name:    "whiteout of dot",
			entries: []tarEntry{file(".wh..", "")},
			wantErr: `entry ".wh..": unknown whiteout form`,
		},
		{
			name:    "whiteout of nothing",
			entries: []tarEntry{file("a/.wh.", "")},
			wantErr: `entry "a/.wh.": unknown whiteout form`,
		},
		{
			name:    "entry under a whiteout",
			entries: []tarEntry{file("a/.wh.b/c", "")},
			wantErr: `entry "a/.wh.b/c": parent ".wh.b" is a whiteout`,
		},
		{
			name:    "name too long",
			entries: []tarEntry{file(strings.Repeat("a/", 2100)+"f", "")},
			wantErr: "name longer than 4096 bytes",
		},
		{
			name:    "root as a file",
			entries: []tarEntry{file(".", "x")},
			wantErr: `entry ".": the extraction root can only be a directory`,
		},
		{
			name: "device nodes are allowed",
			entries: []tarEntry{{hdr: tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}},
				{hdr: tar.Header{Name: "dev/sda", Typeflag: tar.TypeBlock, Devmajor: 8, Devminor: 0, Mode: 0o660}}},
			check: func(t *testing.T, root string) {
				var st unix.Stat_t
				must(t, unix.Lstat(filepath.Join(root, "dev/null"), &st))
				if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) || st.Mode&0o7777 != 0o666 {
					t.Errorf("dev/null: mode %o rdev %x", st.Mode, st.Rdev)
				}
			},
		},
		{
			name:    "replacements: dir over file, file over dir",
			before:  func(t *testing.T, root string) { writeFile(t, filepath.Join(root, "was-file"), "", 0o644, 0, 0) },
			entries: []tarEntry{dir("was-file/"), file("was-file/x", "x"), dir("was-dir/"), file("was-dir/y", "y"), file("was-dir", "now a file")},
			check: func(t *testing.T, root string) {
				assertFile(t, filepath.Join(root, "was-file/x"), "x")
				assertFile(t, filepath.Join(root, "was-dir"), "now a file")
			},
		},
		{
			name:    "unsupported type",
			entries: []tarEntry{{hdr: tar.Header{Name: "c", Typeflag: tar.TypeCont}}},
			wantErr: `entry "c": unsupported entry type`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp, root := extractRoot(t)
			if tt.before != nil {
				tt.before(t, root)
			}
			b := buildTar(t, tt.entries)
			_, err := Extract(context.Background(), bytes.NewReader(b), root, ExtractOptions{Format: tt.format})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Extract: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Extract error = %v, want one containing %q", err, tt.wantErr)
			}
			assertOnlyRoot(t, tmp)
			assertMissing(t, hostEtc)
			assertMissing(t, hostTmp)
			if tt.check != nil {
				tt.check(t, root)
			}
		})
	}
}

// rawPAXTar returns a tar whose first entry is a PAX extended header with
// the given body (written by hand: tar.Writer refuses such headers), then a
// regular file entry named name with content.
func rawPAXTar(t *testing.T, paxBody, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	must(t, tw.WriteHeader(&tar.Header{Name: "PaxHeaders/x", Size: int64(len(paxBody)), Mode: 0o644, Format: tar.FormatUSTAR}))
	_, err := io.WriteString(tw, paxBody)
	must(t, err)
	must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Format: tar.FormatUSTAR}))
	_, err = io.WriteString(tw, content)
	must(t, err)
	must(t, tw.Close())
	b := buf.Bytes()
	b[156] = tar.TypeXHeader
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// paxRecord formats one PAX record: "<len> <key>=<value>\n", where len
// counts itself.
func paxRecord(k, v string) string {
	rec := fmt.Sprintf(" %s=%s\n", k, v)
	size := len(rec) + 1
	for len(strconv.Itoa(size))+len(rec) != size {
		size = len(strconv.Itoa(size)) + len(rec)
	}
	return strconv.Itoa(size) + rec
}

// TestExtractPAXLimit checks that a PAX header block past 1 MiB is refused
// (archive/tar's limit) rather than read into memory.
func TestExtractPAXLimit(t *testing.T) {
	b := rawPAXTar(t, paxRecord("path", strings.Repeat("a", 2<<20)), "x", "")
	tmp, root := extractRoot(t)
	_, err := Extract(context.Background(), bytes.NewReader(b), root, ExtractOptions{})
	if !errors.Is(err, tar.ErrFieldTooLong) {
		t.Errorf("Extract error = %v, want %v", err, tar.ErrFieldTooLong)
	}
	assertOnlyRoot(t, tmp)
}

// TestExtractSparse checks that a GNU sparse entry, which can expand a few
// bytes into terabytes of zeros, is refused.
func TestExtractSparse(t *testing.T) {
	pax := paxRecord("GNU.sparse.map", "0,0") + paxRecord("GNU.sparse.numblocks", "1") +
		paxRecord("GNU.sparse.realsize", "1099511627776") + paxRecord("GNU.sparse.name", "sparse")
	b := rawPAXTar(t, pax, "GNUSparseFile.0/sparse", "")
	tmp, root := extractRoot(t)
	_, err := Extract(context.Background(), bytes.NewReader(b), root, ExtractOptions{})
	if err == nil || !strings.Contains(err.Error(), `entry "sparse": sparse files are not supported`) {
		t.Errorf("Extract error = %v, want a refusal of the sparse entry", err)
	}
	assertOnlyRoot(t, tmp)
	if names := listDir(t, root); len(names) != 0 {
		t.Errorf("Extract wrote %v", names)
	}
}

func TestExtractMetadata(t *testing.T) {
	tmp, root := extractRoot(t)
	b := buildTar(t, []tarEntry{
		{hdr: tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o2750, Uid: 7, Gid: 8}},
		{hdr: tar.Header{Name: "d/suid", Mode: 0o4711, Uid: 1000, Gid: 1000,
			PAXRecords: map[string]string{
				"SCHILY.xattr.security.capability": string(capNetRaw()),
				"SCHILY.xattr.user.a":              "b",
				"SCHILY.xattr.trusted.overlay.x":   "never set",
				"SCHILY.xattr.security.selinux":    "never set",
			}}, body: "bin"},
		{hdr: tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "d/suid", Uid: 5, Gid: 6,
			PAXRecords: map[string]string{"SCHILY.xattr.user.a": "b"}}},
	})
	idmap := func(uid, gid int) (int, int) { return uid + 100000, gid + 100000 }
	if _, err := Extract(context.Background(), bytes.NewReader(b), root, ExtractOptions{IDMap: idmap}); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	got := snapshot(t, root)
	want := map[string]node{
		"d": {Type: "dir", Mode: 0o2750, UID: 100007, GID: 100008, Mtime: 1700000000},
		"d/suid": {Type: "file", Mode: 0o4711, UID: 101000, GID: 101000, Size: 3, Digest: got["d/suid"].Digest, Mtime: 1700000000,
			Xattrs: map[string]string{"security.capability": string(capNetRaw()), "user.a": "b"}},
		"l": {Type: "symlink", Mode: 0o777, UID: 100005, GID: 100006, Link: "d/suid", Mtime: 1700000000},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("extracted tree (-got +want):\n%s", diff)
	}
	assertOnlyRoot(t, tmp)
}

func TestExtractNoChown(t *testing.T) {
	_, root := extractRoot(t)
	b := buildTar(t, []tarEntry{{hdr: tar.Header{Name: "f", Uid: 1234, Gid: 1234}, body: "x"}})
	if _, err := Extract(context.Background(), bytes.NewReader(b), root, ExtractOptions{NoChown: true}); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if n := snapshot(t, root)["f"]; n.UID != os.Getuid() {
		t.Errorf("owner = %d, want the extracting user %d", n.UID, os.Getuid())
	}
}

func TestExtractCanceled(t *testing.T) {
	_, root := extractRoot(t)
	b := buildTar(t, []tarEntry{{hdr: tar.Header{Name: "f"}, body: "x"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Extract(ctx, bytes.NewReader(b), root, ExtractOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Extract error = %v, want %v", err, context.Canceled)
	}
	if names := listDir(t, root); len(names) != 0 {
		t.Errorf("canceled Extract wrote %v", names)
	}
}

func TestExtractTruncated(t *testing.T) {
	_, root := extractRoot(t)
	b := buildTar(t, []tarEntry{{hdr: tar.Header{Name: "f"}, body: strings.Repeat("x", 5000)}})
	_, err := Extract(context.Background(), bytes.NewReader(b[:2000]), root, ExtractOptions{})
	if err == nil || !strings.Contains(err.Error(), `entry "f"`) {
		t.Errorf("Extract of a truncated tar: error = %v, want one naming f", err)
	}
}
