package squash

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/layer"
)

// ent is one tar entry of a test layer.
type ent struct {
	name string
	typ  byte   // tar.TypeReg when 0
	body string // content, or link target
	mode int64  // 0644 or 0755 when 0
}

func file(name, body string) ent { return ent{name: name, body: body} }
func dir(name string) ent        { return ent{name: name + "/", typ: tar.TypeDir} }
func wh(name string) ent         { return ent{name: name} }
func hardlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeLink, body: target}
}
func symlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, body: target}
}

// tarOf makes a layer tar of entries, in the order given.
func tarOf(t *testing.T, entries ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		switch e.typ {
		case 0:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		case tar.TypeDir:
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		case tar.TypeLink, tar.TypeSymlink:
			h.Linkname = e.body
			h.Mode = 0o777
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerDirs extracts each layer (a list of entries) into a directory in
// overlay format, as the store keeps them, and returns the directories.
func layerDirs(t *testing.T, base string, layers ...[]ent) []string {
	t.Helper()
	var dirs []string
	for i, l := range layers {
		d := filepath.Join(base, fmt.Sprintf("l%d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := layer.Extract(context.Background(), bytes.NewReader(tarOf(t, l...)), d, layer.ExtractOptions{Format: layer.DiffFormat}); err != nil {
			t.Fatalf("extracting layer %d: %v", i, err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

// listTar returns one line per entry of a tar: "name" for a directory,
// "name=content" for a file, "name->target" for a symlink, "name=>target"
// for a hardlink, in the tar's order.
func listTar(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			out = append(out, h.Name)
		case tar.TypeSymlink:
			out = append(out, h.Name+"->"+h.Linkname)
		case tar.TypeLink:
			out = append(out, h.Name+"=>"+h.Linkname)
		default:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, h.Name+"="+string(data))
		}
	}
}

// mergeTar merges upper onto lower and returns the squashed layer tar.
func mergeTar(t *testing.T, lower, upper [][]ent) []byte {
	t.Helper()
	return mergeTarIn(t, "", lower, upper)
}

// mergeTarIn is mergeTar with the merged tree in dst ("" for a directory
// on the layers' filesystem).
func mergeTarIn(t *testing.T, dst string, lower, upper [][]ent) []byte {
	t.Helper()
	base := t.TempDir()
	lo := layerDirs(t, filepath.Join(mkdir(t, base, "lower")), lower...)
	up := layerDirs(t, filepath.Join(mkdir(t, base, "upper")), upper...)
	if dst == "" {
		dst = mkdir(t, base, "merged")
	}
	if _, err := Merge(context.Background(), dst, MergeOptions{Lower: lo, Upper: up}); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	var buf bytes.Buffer
	if _, err := layer.WriteTar(context.Background(), dst, &buf, layer.WriteOptions{Format: layer.DiffFormat}); err != nil {
		t.Fatalf("WriteTar: %v", err)
	}
	return buf.Bytes()
}

func mkdir(t *testing.T, base, name string) string {
	t.Helper()
	d := filepath.Join(base, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMerge(t *testing.T) {
	base := [][]ent{{
		dir("etc"), file("etc/passwd", "root"), file("etc/group", "g"),
		dir("usr"), dir("usr/share"), dir("usr/share/doc"), file("usr/share/doc/a", "A"), file("usr/share/doc/b", "B"),
		dir("bin"), file("bin/sh", "sh"),
	}}
	tests := []struct {
		name  string
		lower [][]ent
		upper [][]ent
		want  []string
	}{
		{
			name:  "created then deleted vanishes",
			lower: base,
			upper: [][]ent{
				{dir("data"), file("data/big", "xxxxxxxx")},
				{dir("data"), wh("data/.wh.big")},
				{file("x", "1")},
			},
			want: []string{"data/", "x=1"},
		},
		{
			name:  "deleting a base file keeps the whiteout",
			lower: base,
			upper: [][]ent{
				{dir("etc"), wh("etc/.wh.group")},
				{file("y", "2")},
			},
			want: []string{"etc/", "etc/.wh.group=", "y=2"},
		},
		{
			name:  "overwrite keeps the top version",
			lower: base,
			upper: [][]ent{
				{dir("etc"), file("etc/passwd", "v1"), file("new", "n1")},
				{dir("etc"), file("etc/passwd", "v2")},
				{file("new", "n3")},
			},
			want: []string{"etc/", "etc/passwd=v2", "new=n3"},
		},
		{
			name:  "opaque dir over a base dir stays opaque",
			lower: base,
			upper: [][]ent{
				{dir("usr"), dir("usr/share"), dir("usr/share/doc"), wh("usr/share/doc/.wh..wh..opq"), file("usr/share/doc/c", "C")},
			},
			want: []string{"usr/", "usr/share/", "usr/share/doc/", "usr/share/doc/.wh..wh..opq=", "usr/share/doc/c=C"},
		},
		{
			name:  "opaque dir hides earlier merged files",
			lower: base,
			upper: [][]ent{
				{dir("opt"), file("opt/old", "o")},
				{dir("opt"), wh("opt/.wh..wh..opq"), file("opt/new", "n")},
			},
			want: []string{"opt/", "opt/new=n"},
		},
		{
			name:  "deleted and made again is opaque",
			lower: base,
			upper: [][]ent{
				{dir("usr"), dir("usr/share"), wh("usr/share/.wh.doc")},
				{dir("usr"), dir("usr/share"), dir("usr/share/doc"), file("usr/share/doc/z", "Z")},
			},
			want: []string{"usr/", "usr/share/", "usr/share/doc/", "usr/share/doc/.wh..wh..opq=", "usr/share/doc/z=Z"},
		},
		{
			name:  "whiteout of a subtree added in the merged layers vanishes",
			lower: base,
			upper: [][]ent{
				{dir("tmpbuild"), dir("tmpbuild/src"), file("tmpbuild/src/a.c", "c")},
				{wh(".wh.tmpbuild")},
			},
			want: nil,
		},
		{
			name:  "file replacing a base dir",
			lower: base,
			upper: [][]ent{
				{wh(".wh.usr"), file("usr", "now a file")},
			},
			want: []string{"usr=now a file"},
		},
		{
			name:  "whiteout under an opaque base dir sees the opaque",
			lower: append(append([][]ent(nil), base...), []ent{dir("etc"), wh("etc/.wh..wh..opq"), file("etc/hosts", "h")}),
			upper: [][]ent{
				{dir("etc"), wh("etc/.wh.passwd"), wh("etc/.wh.hosts")},
			},
			want: []string{"etc/", "etc/.wh.hosts="},
		},
		{
			name:  "hardlinks stay hardlinks",
			lower: base,
			upper: [][]ent{
				{dir("h"), file("h/a", "same"), hardlink("h/b", "h/a"), symlink("h/s", "a")},
				{dir("h"), file("h/c", "c")},
			},
			want: []string{"h/", "h/a=same", "h/b=>h/a", "h/c=c", "h/s->a"},
		},
		{
			name:  "hardlink partner overwritten",
			lower: base,
			upper: [][]ent{
				{dir("h"), file("h/a", "same"), hardlink("h/b", "h/a")},
				{dir("h"), file("h/a", "changed")},
			},
			want: []string{"h/", "h/a=changed", "h/b=same"},
		},
		{
			name:  "squash all drops every whiteout",
			lower: nil,
			upper: append(append([][]ent(nil), base...),
				[]ent{dir("etc"), wh("etc/.wh.group")},
				[]ent{dir("usr"), dir("usr/share"), dir("usr/share/doc"), wh("usr/share/doc/.wh..wh..opq"), file("usr/share/doc/c", "C")},
			),
			want: []string{"bin/", "bin/sh=sh", "etc/", "etc/passwd=root", "usr/", "usr/share/", "usr/share/doc/", "usr/share/doc/c=C"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := listTar(t, mergeTar(t, tt.lower, tt.upper))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("squashed layer (-got +want):\n%s", diff)
			}
		})
	}
}

// TestMergeReproducible merges the same layers twice, from two separate
// extractions, and wants the same bytes.
func TestMergeReproducible(t *testing.T) {
	lower := [][]ent{{dir("etc"), file("etc/passwd", "root"), file("etc/group", "g")}}
	upper := [][]ent{
		{dir("etc"), wh("etc/.wh.group"), dir("app"), file("app/a", "a"), hardlink("app/b", "app/a")},
		{dir("app"), file("app/c", "c"), symlink("app/l", "c")},
	}
	a := mergeTar(t, lower, upper)
	b := mergeTar(t, lower, upper)
	if !bytes.Equal(a, b) {
		t.Errorf("two merges of the same layers differ:\n%v\n%v", listTar(t, a), listTar(t, b))
	}
}

// TestMergeKeepsDirMetadata wants a directory's mode, owner and mtime from
// the topmost layer that has it.
func TestMergeKeepsDirMetadata(t *testing.T) {
	upper := [][]ent{
		{{name: "d/", typ: tar.TypeDir, mode: 0o700}, file("d/f", "1")},
		{{name: "d/", typ: tar.TypeDir, mode: 0o1777}, file("d/g", "2")},
	}
	tr := tar.NewReader(bytes.NewReader(mergeTar(t, nil, upper)))
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "d/" || h.Mode != 0o1777 || h.ModTime.Unix() != 1700000000 {
		t.Errorf("first entry %s mode %o mtime %d, want d/ mode 1777 mtime 1700000000", h.Name, h.Mode, h.ModTime.Unix())
	}
}

// TestMergeAcrossFilesystems merges into a tmpfs, where the layers' files
// cannot be hard-linked, and wants the same layer as a merge by links.
func TestMergeAcrossFilesystems(t *testing.T) {
	tmpfs := t.TempDir()
	if err := unix.Mount("tmpfs", tmpfs, "tmpfs", 0, ""); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(tmpfs, unix.MNT_DETACH) })
	lower := [][]ent{{dir("etc"), file("etc/passwd", "root"), file("etc/group", "g")}}
	upper := [][]ent{
		{dir("etc"), wh("etc/.wh.group"), dir("app"), {name: "app/suid", body: "s", mode: 0o4755}, ent{name: "app/fifo", typ: tar.TypeFifo, mode: 0o600}},
		{dir("app"), file("app/c", "c"), symlink("app/l", "c")},
	}
	linked := mergeTar(t, lower, upper)
	copied := mergeTarIn(t, tmpfs, lower, upper)
	if diff := cmp.Diff(listTar(t, copied), listTar(t, linked)); diff != "" {
		t.Errorf("merge by copies (-got +want):\n%s", diff)
	}
	if !bytes.Equal(copied, linked) {
		t.Errorf("the merge by copies differs from the merge by links in its headers")
	}
}

// TestMergeRootlessOpaqueMarker merges layer dirs from a rootless store,
// whose opaque directories carry user.overlay.opaque: the opaque dir must
// still hide what the kept layers have under it.
func TestMergeRootlessOpaqueMarker(t *testing.T) {
	base := t.TempDir()
	lo := layerDirs(t, mkdir(t, base, "lower"), []ent{dir("opt"), file("opt/old", "o")})
	up := layerDirs(t, mkdir(t, base, "upper"), []ent{dir("opt"), wh("opt/.wh..wh..opq"), file("opt/new", "n")})
	opt := filepath.Join(up[0], "opt")
	// What a rootless extraction writes instead of the trusted.* marker.
	if err := unix.Lremovexattr(opt, "trusted.overlay.opaque"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(opt, "user.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	dst := mkdir(t, base, "merged")
	if _, err := Merge(context.Background(), dst, MergeOptions{Lower: lo, Upper: up}); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	var buf bytes.Buffer
	if _, err := layer.WriteTar(context.Background(), dst, &buf, layer.WriteOptions{Format: layer.DiffFormat}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(listTar(t, buf.Bytes()), []string{"opt/", "opt/.wh..wh..opq=", "opt/new=n"}); diff != "" {
		t.Errorf("merged layer (-got +want):\n%s", diff)
	}
}
