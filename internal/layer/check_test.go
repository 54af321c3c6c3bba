package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// checkTar returns a tar of the headers (regular files empty).
func checkTar(t *testing.T, hdrs ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		h.Mode = 0o644
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckTar(t *testing.T) {
	dir := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeDir} }
	file := func(n string) tar.Header { return tar.Header{Name: n} }
	sym := func(n, to string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: to} }
	hard := func(n, to string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeLink, Linkname: to} }
	for _, tc := range []struct {
		name    string
		hdrs    []tar.Header
		rootfs  bool
		wantErr string // "" for a valid tar
	}{
		{"plain", []tar.Header{dir("./"), dir("./etc/"), file("./etc/passwd"), sym("./bin", "usr/bin"), hard("./etc/p2", "./etc/passwd")}, false, ""},
		{"absolute symlink target", []tar.Header{sym("etc", "/etc"), sym("lnk", "../../x")}, false, ""},
		{"dot-dot that stays inside", []tar.Header{dir("a/"), file("a/../b")}, false, ""},
		{"whiteouts in a layer", []tar.Header{file("etc/.wh.passwd"), file("var/.wh..wh..opq")}, false, ""},
		{"symlink replaced by a directory", []tar.Header{sym("d", "/etc"), dir("d/"), file("d/f")}, false, ""},
		{"dot-dot", []tar.Header{file("../x")}, false, `"../x" climbs out`},
		{"dot-dot deep", []tar.Header{file("a/../../x")}, false, "climbs out"},
		{"absolute", []tar.Header{file("/etc/passwd")}, false, "absolute path"},
		{"absolute dot-dot", []tar.Header{file("/../x")}, false, "absolute path"},
		{"through an earlier symlink", []tar.Header{sym("d", "/etc"), file("d/passwd")}, false, `goes through "d", a symlink`},
		{"through a nested symlink", []tar.Header{dir("a/"), sym("a/b", "../../.."), file("a/b/c/d")}, false, `goes through "a/b"`},
		{"whiteout through a symlink", []tar.Header{sym("d", "/etc"), file("d/.wh.passwd")}, false, "a symlink"},
		{"hard link outside", []tar.Header{hard("x", "../etc/passwd")}, false, "climbs out"},
		{"hard link absolute", []tar.Header{hard("x", "/etc/passwd")}, false, "absolute path"},
		{"hard link to a later entry", []tar.Header{hard("x", "y"), file("y")}, false, "not an earlier entry"},
		{"hard link to a directory", []tar.Header{dir("d/"), hard("x", "d")}, false, "is a directory"},
		{"hard link through a symlink", []tar.Header{dir("d/"), file("d/f"), sym("l", "d"), hard("x", "l/f")}, false, `goes through "l"`},
		{"rootfs with .wh. file", []tar.Header{dir("etc/"), file("etc/.wh.passwd")}, true, "cannot be stored in a layer"},
		{"rootfs with .wh. directory", []tar.Header{dir(".wh.d/")}, true, "cannot be stored in a layer"},
		{"rootfs plain", []tar.Header{dir("./"), file("./etc/passwd"), file("./etc/x.wh.y")}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTar(bytes.NewReader(checkTar(t, tc.hdrs...)), CheckOptions{RootFS: tc.rootfs})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("CheckTar: got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("CheckTar: got %v, want an error containing %q", err, tc.wantErr)
			case tc.wantErr != "" && !errors.Is(err, ErrUnsafeEntry):
				t.Fatalf("CheckTar: got %v, want it to match ErrUnsafeEntry", err)
			}
		})
	}
}
