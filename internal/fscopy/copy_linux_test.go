package fscopy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// spec is one entry to make in a test tree.
type spec struct {
	kind     byte // 'f' file, 'd' dir, 'l' symlink, 'h' hard link to data, 'p' fifo, 's' socket
	mode     os.FileMode
	data     string // content, link target, or hard link source
	uid, gid int
}

func F(mode os.FileMode, content string) spec { return spec{kind: 'f', mode: mode, data: content} }
func D(mode os.FileMode) spec                 { return spec{kind: 'd', mode: mode} }
func L(target string) spec                    { return spec{kind: 'l', data: target} }
func H(source string) spec                    { return spec{kind: 'h', data: source} }
func P(mode os.FileMode) spec                 { return spec{kind: 'p', mode: mode} }
func S(mode os.FileMode) spec                 { return spec{kind: 's', mode: mode} }
func (s spec) own(uid, gid int) spec          { s.uid, s.gid = uid, gid; return s }

// ctxTime is the mtime of every file made by makeTree.
var ctxTime = time.Unix(1600000000, 0)

// makeTree makes the entries under dir, parents first (directories named
// explicitly get their mode after their children exist).
func makeTree(t *testing.T, dir string, entries map[string]spec) {
	t.Helper()
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	// hard links after what they link to
	sort.Slice(names, func(i, j int) bool {
		hi, hj := entries[names[i]].kind == 'h', entries[names[j]].kind == 'h'
		if hi != hj {
			return hj
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		s := entries[n]
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch s.kind {
		case 'f':
			err = os.WriteFile(p, []byte(s.data), 0o600)
		case 'd':
			err = os.MkdirAll(p, 0o755)
		case 'l':
			err = os.Symlink(s.data, p)
		case 'h':
			err = os.Link(filepath.Join(dir, s.data), p)
		case 'p':
			err = unix.Mkfifo(p, 0o600)
		case 's':
			var l net.Listener
			l, err = net.Listen("unix", p)
			if err == nil {
				l.(*net.UnixListener).SetUnlinkOnClose(false)
				l.Close()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, s.uid, s.gid); err != nil {
			t.Fatal(err)
		}
		if s.kind != 'l' && s.kind != 'h' {
			if err := unix.Chmod(p, uint32(s.mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// mtimes last, deepest first
	for i := len(names) - 1; i >= 0; i-- {
		ts := []unix.Timespec{unix.NsecToTimespec(ctxTime.UnixNano()), unix.NsecToTimespec(ctxTime.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, names[i]), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// listTree describes every entry under dir: "d 0755 0:0", "f 0644 0:0
// content", "l 0:0 -> target", "p 0644 0:0"; mtimes are checked apart.
func listTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		own := fmt.Sprintf("%d:%d", st.Uid, st.Gid)
		perm := fmt.Sprintf("%04o", st.Mode&0o7777)
		switch {
		case fi.IsDir():
			out[rel] = "d " + perm + " " + own
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "f " + perm + " " + own + " " + string(data)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "l " + own + " -> " + target
		case fi.Mode()&fs.ModeNamedPipe != 0:
			out[rel] = "p " + perm + " " + own
		default:
			out[rel] = "? " + fi.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// targz makes a gzip-compressed tar of the entries.
func targz(t *testing.T, entries []tar.Header, data map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		h.Size = int64(len(data[h.Name]))
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data[h.Name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// baseImage is the image tree every case starts from.
var baseImage = map[string]spec{
	"etc/":       D(0o755),
	"etc/passwd": F(0o644, "root:x:0:0"),
	"existing/":  D(0o700).own(5, 5),
	"existing/k": F(0o644, "keep"),
	"existing/o": F(0o644, "old"),
}

// baseWant is listTree of baseImage.
var baseWant = map[string]string{
	"etc":        "d 0755 0:0",
	"etc/passwd": "f 0644 0:0 root:x:0:0",
	"existing":   "d 0700 5:5",
	"existing/k": "f 0644 0:0 keep",
	"existing/o": "f 0644 0:0 old",
}

// with returns baseWant plus the entries of more ("" deletes).
func with(more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range baseWant {
		out[k] = v
	}
	for k, v := range more {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// context is the build context every case copies from.
var buildContext = map[string]spec{
	"a.txt":            F(0o644, "file a").own(1000, 1000),
	"b.txt":            F(0o600, "file b"),
	"script.sh":        F(0o755, "#!/bin/sh"),
	"dir/":             D(0o750),
	"dir/f1":           F(0o444, "f1"),
	"dir/sub/":         D(0o755),
	"dir/sub/g":        F(0o4755, "g"),
	"dir/emptydir/":    D(0o700),
	"dor/":             D(0o755),
	"dor/s1":           F(0o644, "s1"),
	"links/":           D(0o755),
	"links/target.txt": F(0o644, "link target"),
	"links/rel":        L("target.txt"),
	"links/abs":        L("/etc/passwd"),
	"links/dangling":   L("nowhere"),
	"filelink":         L("links/target.txt"),
	"hl/":              D(0o755),
	"hl/one":           F(0o644, "linked"),
	"hl/two":           H("hl/one"),
	"hl/d/three":       H("hl/one"),
	"special/":         D(0o755),
	"special/fifo":     P(0o640),
	"special/sock":     S(0o751),
	"over/":            D(0o755),
	"over/o":           F(0o644, "new"),
	"over/abs":         F(0o644, "replaces the link"),
	"notreally.tar.gz": F(0o644, "this is text, not gzip data"),
	"skip.log":         F(0o644, "ignored"),
	"build/":           D(0o755),
	"build/out.bin":    F(0o644, "out"),
	"build/keep/k":     F(0o644, "kept"),
}

func TestCopy(t *testing.T) {
	archive := targz(t, []tar.Header{
		{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000, ModTime: time.Unix(1400000000, 0)},
		{Name: "pkg/file.txt", Typeflag: tar.TypeReg, Mode: 0o640, Uid: 1000, Gid: 1000, ModTime: time.Unix(1500000000, 0)},
		{Name: "pkg/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", ModTime: time.Unix(1500000000, 0)},
	}, map[string]string{"pkg/file.txt": "archived\n"})

	for _, tc := range []struct {
		name    string
		image   map[string]spec
		actions []Action
		want    map[string]string
		wantErr string
	}{
		{
			name:    "file into dir/",
			actions: []Action{{Sources: []Source{{Rel: "a.txt"}}, Dest: "/dst/"}},
			want:    with(map[string]string{"dst": "d 0755 0:0", "dst/a.txt": "f 0644 0:0 file a"}),
		},
		{
			name: "file to a new name",
			actions: []Action{
				{Sources: []Source{{Rel: "a.txt"}}, Dest: "/dst/renamed.txt"},
				{Sources: []Source{{Rel: "/b.txt"}}, Dest: "/newfile"},
			},
			want: with(map[string]string{"dst": "d 0755 0:0", "dst/renamed.txt": "f 0644 0:0 file a", "newfile": "f 0600 0:0 file b"}),
		},
		{
			// Regression: the root's own host path was created inside it.
			name:    "dir to the root",
			actions: []Action{{Sources: []Source{{Rel: "dor"}}, Dest: "/"}},
			want:    with(map[string]string{"s1": "f 0644 0:0 s1"}),
		},
		{
			name:    "file into an existing dir without slash",
			actions: []Action{{Sources: []Source{{Rel: "a.txt"}}, Dest: "/existing"}},
			want:    with(map[string]string{"existing/a.txt": "f 0644 0:0 file a"}),
		},
		{
			name: "dir contents",
			actions: []Action{
				{Sources: []Source{{Rel: "dir"}}, Dest: "/dircontents/"},
				{Sources: []Source{{Rel: "dir/"}}, Dest: "/noslash"},
			},
			want: with(map[string]string{
				"dircontents": "d 0755 0:0", "dircontents/f1": "f 0444 0:0 f1", "dircontents/sub": "d 0755 0:0",
				"dircontents/sub/g": "f 4755 0:0 g", "dircontents/emptydir": "d 0700 0:0",
				"noslash": "d 0755 0:0", "noslash/f1": "f 0444 0:0 f1", "noslash/sub": "d 0755 0:0",
				"noslash/sub/g": "f 4755 0:0 g", "noslash/emptydir": "d 0700 0:0",
			}),
		},
		{
			// the root's parent is the host's: copying a directory to
			// "/" once made the host path of root inside it
			name: "dir contents into the root",
			actions: []Action{
				{Sources: []Source{{Rel: "dor"}}, Dest: "/"},
				{Sources: []Source{{Rel: "dir/sub"}}, Dest: "/."},
			},
			want: with(map[string]string{"s1": "f 0644 0:0 s1", "g": "f 4755 0:0 g"}),
		},
		{
			name: "merge into an existing dir, replacing a file",
			actions: []Action{
				{Sources: []Source{{Rel: "over"}}, Dest: "/existing/"},
			},
			want: with(map[string]string{"existing/o": "f 0644 0:0 new", "existing/abs": "f 0644 0:0 replaces the link"}),
		},
		{
			name: "several sources and globs",
			actions: []Action{
				{Sources: []Source{{Rel: "a.txt"}, {Rel: "dor"}}, Dest: "/multi/"},
				{Sources: []Source{{Rel: "*.txt", IsGlob: true}}, Dest: "/wild/"},
				{Sources: []Source{{Rel: "d?r/s*", IsGlob: true}}, Dest: "/wild2/"},
				{Sources: []Source{{Rel: "d?r", IsGlob: true}}, Dest: "/wild3/"},
				{Sources: []Source{{Rel: "nomatch*", IsGlob: true}}, Dest: "/none/"},
			},
			want: with(map[string]string{
				"multi": "d 0755 0:0", "multi/a.txt": "f 0644 0:0 file a", "multi/s1": "f 0644 0:0 s1",
				"wild": "d 0755 0:0", "wild/a.txt": "f 0644 0:0 file a", "wild/b.txt": "f 0600 0:0 file b",
				"wild2": "d 0755 0:0", "wild2/g": "f 4755 0:0 g", "wild2/s1": "f 0644 0:0 s1",
				// each matched directory's contents go into the destination
				"wild3": "d 0755 0:0", "wild3/f1": "f 0444 0:0 f1", "wild3/sub": "d 0755 0:0",
				"wild3/sub/g": "f 4755 0:0 g", "wild3/emptydir": "d 0700 0:0", "wild3/s1": "f 0644 0:0 s1",
			}),
		},
		{
			name: "missing nested dest dirs with chown",
			actions: []Action{
				{Sources: []Source{{Rel: "a.txt"}}, Dest: "/x/y/z/", Chown: &Owner{1001, 1002}},
				{Sources: []Source{{Rel: "dor"}}, Dest: "/p/q", Chown: &Owner{7, 8}},
			},
			want: with(map[string]string{
				"x": "d 0755 1001:1002", "x/y": "d 0755 1001:1002", "x/y/z": "d 0755 1001:1002",
				"x/y/z/a.txt": "f 0644 1001:1002 file a",
				"p":           "d 0755 7:8", "p/q": "d 0755 7:8", "p/q/s1": "f 0644 7:8 s1",
			}),
		},
		{
			name: "chmod on files and dirs",
			actions: []Action{
				{Sources: []Source{{Rel: "dir"}}, Dest: "/perm/", Chmod: ptr(os.FileMode(0o640))},
				{Sources: []Source{{Rel: "a.txt"}, {Rel: "b.txt"}}, Dest: "/several/", Chmod: ptr(os.FileMode(0o600)), Chown: &Owner{1, 2}},
			},
			want: with(map[string]string{
				"perm": "d 0755 0:0", "perm/f1": "f 0640 0:0 f1", "perm/sub": "d 0640 0:0",
				"perm/sub/g": "f 0640 0:0 g", "perm/emptydir": "d 0640 0:0",
				"several": "d 0755 1:2", "several/a.txt": "f 0600 1:2 file a", "several/b.txt": "f 0600 1:2 file b",
			}),
		},
		{
			name: "chmod with special bits as raw octal or os.Mode bits",
			actions: []Action{
				{Sources: []Source{{Rel: "a.txt"}}, Dest: "/raw", Chmod: ptr(os.FileMode(0o4750))},
				{Sources: []Source{{Rel: "a.txt"}}, Dest: "/gomode", Chmod: ptr(os.ModeSetgid | os.ModeSticky | 0o700)},
			},
			want: with(map[string]string{"raw": "f 4750 0:0 file a", "gomode": "f 3700 0:0 file a"}),
		},
		{
			name:  "absolute symlink to / in the image stays inside root",
			image: map[string]spec{"escape": L("/"), "etcl": L("/etc"), "up": L("../../../..")},
			actions: []Action{
				{Sources: []Source{{Rel: "a.txt"}}, Dest: "/escape/"},
				{Sources: []Source{{Rel: "b.txt"}}, Dest: "/etcl/x/"},
				{Sources: []Source{{Rel: "dor"}}, Dest: "/up/tmp/"},
			},
			want: with(map[string]string{
				"escape": "l 0:0 -> /", "etcl": "l 0:0 -> /etc", "up": "l 0:0 -> ../../../..",
				"a.txt": "f 0644 0:0 file a", "etc/x": "d 0755 0:0", "etc/x/b.txt": "f 0600 0:0 file b",
				"tmp": "d 0755 0:0", "tmp/s1": "f 0644 0:0 s1",
			}),
		},
		{
			name:  "symlinks: copied inside dirs, followed as sources",
			image: map[string]spec{"s/dir/": D(0o755), "s/dirlink": L("/s/dir")},
			actions: []Action{
				{Sources: []Source{{Rel: "links"}}, Dest: "/copied/"},
				{Sources: []Source{{Rel: "filelink"}}, Dest: "/copied/filelink"},
				{Sources: []Source{{Rel: "links/target.txt"}}, Dest: "/s/dirlink/"},
			},
			want: with(map[string]string{
				"copied": "d 0755 0:0", "copied/target.txt": "f 0644 0:0 link target",
				"copied/rel": "l 0:0 -> target.txt", "copied/abs": "l 0:0 -> /etc/passwd",
				"copied/dangling": "l 0:0 -> nowhere",
				"copied/filelink": "f 0644 0:0 link target",
				"s":               "d 0755 0:0", "s/dir": "d 0755 0:0", "s/dirlink": "l 0:0 -> /s/dir",
				"s/dir/target.txt": "f 0644 0:0 link target",
			}),
		},
		{
			name:  "a file replaces a symlink below the top, not its target",
			image: map[string]spec{"t/abs": L("/etc/passwd")},
			actions: []Action{
				{Sources: []Source{{Rel: "over"}}, Dest: "/t/"},
			},
			want: with(map[string]string{
				"t": "d 0755 0:0", "t/o": "f 0644 0:0 new", "t/abs": "f 0644 0:0 replaces the link",
			}),
		},
		{
			// BuildKit resolves the whole destination path inside root, so a
			// symlink named as the destination is followed (inside root).
			name:    "a symlink named as the destination is followed inside root",
			image:   map[string]spec{"abs": L("/etc/passwd")},
			actions: []Action{{Sources: []Source{{Rel: "a.txt"}}, Dest: "/abs"}},
			want:    with(map[string]string{"abs": "l 0:0 -> /etc/passwd", "etc/passwd": "f 0644 0:0 file a"}),
		},
		{
			name:    "special files",
			actions: []Action{{Sources: []Source{{Rel: "special"}}, Dest: "/sp/"}},
			want:    with(map[string]string{"sp": "d 0755 0:0", "sp/fifo": "p 0640 0:0"}),
		},
		{
			// BuildKit's context transfer turns a socket into an empty
			// regular file of its mode (testCopySocket).
			name:    "a context socket becomes an empty file",
			actions: []Action{{Sources: []Source{{Rel: "special"}}, Dest: "/sp/", SocketsAsFiles: true}},
			want:    with(map[string]string{"sp": "d 0755 0:0", "sp/fifo": "p 0640 0:0", "sp/sock": "f 0751 0:0 "}),
		},
		{
			name: "owners kept for COPY --from",
			actions: []Action{
				{Sources: []Source{{Rel: "a.txt"}}, Dest: "/kept/", KeepOwner: true},
				{Sources: []Source{{Rel: "a.txt"}}, Dest: "/chowned/", KeepOwner: true, Chown: &Owner{3, 4}},
			},
			want: with(map[string]string{
				"kept": "d 0755 0:0", "kept/a.txt": "f 0644 1000:1000 file a",
				"chowned": "d 0755 3:4", "chowned/a.txt": "f 0644 3:4 file a",
			}),
		},
		{
			name: "dockerignore",
			actions: []Action{{
				Sources: []Source{{Rel: "build"}, {Rel: "*.log", IsGlob: true}},
				Dest:    "/ign/", Exclude: []string{"*.log", "build", "!build/keep"},
			}},
			want: with(map[string]string{"ign": "d 0755 0:0", "ign/keep": "d 0755 0:0", "ign/keep/k": "f 0644 0:0 kept"}),
		},
		{
			name: "ADD unpacks archives, copies other files",
			actions: []Action{
				{Sources: []Source{{Rel: "archive.tar.gz"}}, Dest: "/extract/", Unpack: true},
				{Sources: []Source{{Rel: "archive.tar.gz"}}, Dest: "/extract-noslash", Unpack: true, Chown: &Owner{9, 9}},
				{Sources: []Source{{Rel: "notreally.tar.gz"}}, Dest: "/copied/", Unpack: true},
				{Sources: []Source{{Rel: "archive.tar.gz"}}, Dest: "/copied/"},
			},
			want: with(map[string]string{
				"extract": "d 0755 0:0", "extract/pkg": "d 0750 1000:1000",
				"extract/pkg/file.txt": "f 0640 1000:1000 archived\n", "extract/pkg/link": "l 0:0 -> /etc/passwd",
				"extract-noslash": "d 0755 9:9", "extract-noslash/pkg": "d 0750 9:9",
				"extract-noslash/pkg/file.txt": "f 0640 9:9 archived\n", "extract-noslash/pkg/link": "l 9:9 -> /etc/passwd",
				"copied": "d 0755 0:0", "copied/notreally.tar.gz": "f 0644 0:0 this is text, not gzip data",
				"copied/archive.tar.gz": "f 0644 0:0 " + archive,
			}),
		},
		{
			name:    "missing source",
			actions: []Action{{Sources: []Source{{Rel: "missing.txt"}}, Dest: "/dst/"}},
			wantErr: `"missing.txt": not found`,
		},
		{
			name:    "dir onto a file",
			image:   map[string]spec{"file": F(0o644, "x")},
			actions: []Action{{Sources: []Source{{Rel: "dor"}}, Dest: "/file"}},
			wantErr: "non-directory",
		},
		{
			name:    "file onto a dir below the top",
			image:   map[string]spec{"t/o/": D(0o755)},
			actions: []Action{{Sources: []Source{{Rel: "over"}}, Dest: "/t/"}},
			wantErr: "cannot replace directory /t/o",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctxDir := t.TempDir()
			makeTree(t, ctxDir, buildContext)
			if err := os.WriteFile(filepath.Join(ctxDir, "archive.tar.gz"), []byte(archive), 0o644); err != nil {
				t.Fatal(err)
			}
			outer := t.TempDir()
			root := filepath.Join(outer, "root")
			img := map[string]spec{}
			for k, v := range baseImage {
				img[k] = v
			}
			for k, v := range tc.image {
				img[k] = v
			}
			makeTree(t, root, img)
			var err error
			for _, a := range tc.actions {
				a.SrcRoot = ctxDir
				if err = Copy(context.Background(), root, a); err != nil {
					break
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Copy error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// nothing was written beside root
			if entries, _ := os.ReadDir(outer); len(entries) != 1 {
				t.Errorf("entries beside root: %v", entries)
			}
			want := tc.want
			for k, v := range tc.image { // image entries the copy leaves alone
				if _, ok := want[k]; !ok && v.kind == 'l' {
					t.Errorf("want has no entry for image symlink %s", k)
				}
			}
			if diff := cmp.Diff(listTree(t, root), want); diff != "" {
				t.Errorf("tree (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCopyMetadata(t *testing.T) {
	ctxDir := t.TempDir()
	makeTree(t, ctxDir, buildContext)
	root := t.TempDir()
	makeTree(t, root, baseImage)
	for _, a := range []Action{
		{Sources: []Source{{Rel: "dir"}, {Rel: "links"}}, Dest: "/m/"},
		{Sources: []Source{{Rel: "hl"}}, Dest: "/hl/"},
		{Sources: []Source{{Rel: "hl/one"}, {Rel: "hl/two"}}, Dest: "/hl-separate/"},
	} {
		a.SrcRoot = ctxDir
		if err := Copy(context.Background(), root, a); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("mtimes kept", func(t *testing.T) {
		for _, p := range []string{"m/f1", "m/sub/g", "m/sub", "m/rel", "m/emptydir"} {
			fi, err := os.Lstat(filepath.Join(root, p))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.ModTime(); !got.Equal(ctxTime) {
				t.Errorf("mtime of %s = %v, want %v", p, got, ctxTime)
			}
		}
	})
	t.Run("hard links kept within a source", func(t *testing.T) {
		ino := func(p string) uint64 {
			fi, err := os.Lstat(filepath.Join(root, p))
			if err != nil {
				t.Fatal(err)
			}
			return fi.Sys().(*syscall.Stat_t).Ino
		}
		if ino("hl/one") != ino("hl/two") || ino("hl/one") != ino("hl/d/three") {
			t.Error("hl/one, hl/two and hl/d/three are not one inode")
		}
		// BuildKit copies each source on its own
		if ino("hl-separate/one") == ino("hl-separate/two") {
			t.Error("files of two sources were hard linked")
		}
	})
	t.Run("ModTime", func(t *testing.T) {
		tm := time.Unix(1234567890, 0)
		if err := Copy(context.Background(), root, Action{SrcRoot: ctxDir, Sources: []Source{{Rel: "dir"}}, Dest: "/new/deep/", ModTime: &tm}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"new", "new/deep", "new/deep/f1", "new/deep/sub", "new/deep/sub/g"} {
			fi, err := os.Lstat(filepath.Join(root, p))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.ModTime(); !got.Equal(tm) {
				t.Errorf("mtime of %s = %v, want %v", p, got, tm)
			}
		}
	})
}

func TestActionJSON(t *testing.T) {
	tm := time.Unix(1600000000, 5).UTC()
	a := Action{
		SrcRoot: "/ctx", Exclude: []string{"*.log", "!keep.log"},
		Sources: []Source{{Rel: "a"}, {Rel: "*.txt", IsGlob: true}},
		Dest:    "/dst/", Chown: &Owner{1, 2}, KeepOwner: true,
		Chmod: ptr(os.FileMode(0o4755)), Unpack: true, ModTime: &tm, SocketsAsFiles: true,
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var got Action
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, a); diff != "" {
		t.Errorf("round trip (-got +want):\n%s", diff)
	}
}

func TestMkdirAll(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]spec{"existing/": D(0o700).own(5, 5), "link": L("/existing")})
	for _, dir := range []string{"/existing/a/b", "/link/c", "/w/x", "/existing"} {
		if err := MkdirAll(root, dir, &Owner{1000, 1001}); err != nil {
			t.Fatal(err)
		}
	}
	if err := MkdirAll(root, "/existing/a/b", nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"existing":     "d 0700 5:5",
		"existing/a":   "d 0755 1000:1001",
		"existing/a/b": "d 0755 1000:1001",
		"existing/c":   "d 0755 1000:1001",
		"link":         "l 0:0 -> /existing",
		"w":            "d 0755 1000:1001",
		"w/x":          "d 0755 1000:1001",
	}
	if diff := cmp.Diff(listTree(t, root), want); diff != "" {
		t.Errorf("tree (-got +want):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(root, "/file/x", nil); err == nil {
		t.Error("MkdirAll through a file succeeded")
	}
}

// TestCreatedDirsAsMkdir checks that the directories WORKDIR (MkdirAll) and
// COPY (the destination's parents) create come out as mkdir inside the
// container makes them: 0755 whatever the umask, the setgid bit and group
// of a setgid parent kept, and the --chown or USER owner set without losing
// that bit.
func TestCreatedDirsAsMkdir(t *testing.T) {
	old := unix.Umask(0o077) // a umask the result must not depend on
	defer unix.Umask(old)
	tests := []struct {
		name  string
		make  func(root string) error
		check string // the directory whose entry is compared
		want  string
	}{
		{"WORKDIR in a setgid dir, no USER", func(root string) error {
			return MkdirAll(root, "/sg/a/b", nil)
		}, "sg/a/b", "d 2755 0:50"},
		{"WORKDIR in a setgid dir, USER 1000", func(root string) error {
			return MkdirAll(root, "/sg/a/b", &Owner{1000, 1000})
		}, "sg/a/b", "d 2755 1000:1000"},
		{"WORKDIR in a plain dir, no USER", func(root string) error {
			return MkdirAll(root, "/plain/a/b", nil)
		}, "plain/a/b", "d 0755 0:0"},
		{"COPY parents in a setgid dir", func(root string) error {
			return Copy(context.Background(), root, Action{SrcRoot: filepath.Join(root, "src"), Sources: []Source{{Rel: "f"}}, Dest: "/sg/c/d/"})
		}, "sg/c", "d 2755 0:50"},
		{"COPY --chown parents in a setgid dir", func(root string) error {
			return Copy(context.Background(), root, Action{SrcRoot: filepath.Join(root, "src"), Sources: []Source{{Rel: "f"}}, Dest: "/sg/c/d/", Chown: &Owner{1000, 1000}})
		}, "sg/c/d", "d 2755 1000:1000"},
		{"COPY --chown parents in a plain dir", func(root string) error {
			return Copy(context.Background(), root, Action{SrcRoot: filepath.Join(root, "src"), Sources: []Source{{Rel: "f"}}, Dest: "/plain/c/d/", Chown: &Owner{1000, 50}})
		}, "plain/c", "d 0755 1000:50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			makeTree(t, root, map[string]spec{"sg/": D(0o775).own(0, 50), "plain/": D(0o755), "src/f": F(0o644, "x")})
			if err := unix.Chmod(filepath.Join(root, "sg"), 0o2775); err != nil {
				t.Fatal(err)
			}
			if err := tt.make(root); err != nil {
				t.Fatal(err)
			}
			if got := listTree(t, root)[tt.check]; got != tt.want {
				t.Errorf("%s = %q, want %q", tt.check, got, tt.want)
			}
		})
	}
}
