package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-build/strata/internal/store"
)

// tarOf returns a tar of the headers (regular files with body "x").
func tarOf(t *testing.T, hdrs ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h.Mode = 0o644
		if h.Typeflag == tar.TypeReg {
			h.Size = 1
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, "x")
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// storeFiles lists every path under root with its size (directories 0).
func storeFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		size := int64(0)
		if !d.IsDir() {
			size = fi.Size()
		}
		data := ""
		if fi.Mode().IsRegular() && size < 4096 {
			b, _ := os.ReadFile(p)
			data = string(b)
		}
		out = append(out, rel+" "+data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestImportRefusesUnsafeTarballs checks that a tarball that could not be
// extracted safely, or holds a file a layer cannot represent, is refused
// with a message naming the entry, and that the store is left exactly as
// it was: no blob, no name, nothing in tmp.
func TestImportRefusesUnsafeTarballs(t *testing.T) {
	dir := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeDir} }
	file := func(n string) tar.Header { return tar.Header{Name: n, Typeflag: tar.TypeReg} }
	for _, tc := range []struct {
		name string
		tar  []byte
		want string
	}{
		{"dot-dot", tarOf(t, dir("./"), file("../x")), `"../x" climbs out of the root`},
		{"absolute", tarOf(t, file("/../../etc/x")), "absolute path"},
		{"through a symlink", tarOf(t, tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, file("etc/cron.d/x")), `goes through "etc"`},
		{"hard link outside", tarOf(t, tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}), "climbs out"},
		{"hard link to a later entry", tarOf(t, tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "y"}, file("y")), "not an earlier entry"},
		{"file named .wh.", tarOf(t, dir("etc/"), file("etc/.wh.passwd")), "cannot be stored in a layer"},
		{"opaque marker", tarOf(t, dir("etc/"), file("etc/.wh..wh..opq")), "cannot be stored in a layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			st, err := store.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			before := storeFiles(t, root)
			_, err = Import(context.Background(), st, bytes.NewReader(tc.tar), ImportOptions{Names: []string{"bad:latest"}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was stored") {
				t.Fatalf("Import: got %v, want an error saying %q and that nothing was stored", err, tc.want)
			}
			if diff := cmp.Diff(storeFiles(t, root), before); diff != "" {
				t.Errorf("the store changed (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("a good tarball", func(t *testing.T) {
		st, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		data := tarOf(t, dir("./"), dir("./etc/"), file("./etc/passwd"), tar.Header{Name: "./bin", Typeflag: tar.TypeSymlink, Linkname: "/usr/bin"},
			tar.Header{Name: "./etc/p2", Typeflag: tar.TypeLink, Linkname: "./etc/passwd"})
		if _, err := Import(context.Background(), st, bytes.NewReader(data), ImportOptions{Names: []string{"good:latest"}}); err != nil {
			t.Fatalf("Import: %v", err)
		}
	})
}
