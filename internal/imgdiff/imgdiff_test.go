package imgdiff

import (
	"archive/tar"
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/store"
)

type ent struct {
	name string
	typ  byte
	body string
	mode int64
}

func layerOf(t *testing.T, entries ...ent) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		switch h.Typeflag {
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		case tar.TypeLink, tar.TypeSymlink:
			h.Linkname = e.body
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
}

func imageOf(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var dirEnt = func(name string) ent { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }

func TestImages(t *testing.T) {
	base := layerOf(t, dirEnt("etc/"), ent{name: "etc/passwd", body: "root"}, ent{name: "etc/group", body: "g"},
		dirEnt("doc/"), ent{name: "doc/a", body: "aaaa"}, ent{name: "doc/b", body: "bb"}, ent{name: "bin", typ: tar.TypeSymlink, body: "usr/bin"})
	a := imageOf(t, base)
	b := imageOf(t, base,
		layerOf(t, ent{name: "big", body: "0123456789"}, ent{name: "etc/passwd", body: "root2"}, ent{name: "etc/group", body: "g", mode: 0o600}),
		layerOf(t, ent{name: ".wh.big"}, ent{name: "doc/.wh..wh..opq"}, ent{name: "doc/c", body: "c"}, ent{name: "doc/h", typ: tar.TypeLink, body: "doc/c"}),
		layerOf(t, ent{name: "x", body: "1"}, ent{name: "bin", typ: tar.TypeSymlink, body: "usr/sbin"}),
	)
	got, err := Images(context.Background(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{
		Changes: []Change{
			{Kind: Changed, Path: "/bin", Type: "symlink"},
			{Kind: Deleted, Path: "/doc/a", Type: "file", Size: 4},
			{Kind: Deleted, Path: "/doc/b", Type: "file", Size: 2},
			{Kind: Added, Path: "/doc/c", Type: "file", Size: 1},
			{Kind: Added, Path: "/doc/h", Type: "file", Size: 1},
			{Kind: Changed, Path: "/etc/group", Type: "file", Size: 1, OldSize: 1},
			{Kind: Changed, Path: "/etc/passwd", Type: "file", Size: 5, OldSize: 4},
			{Kind: Added, Path: "/x", Type: "file", Size: 1},
		},
		Summary: Summary{Added: 3, AddedBytes: 3, Deleted: 2, DeletedBytes: 6, Changed: 3, ChangedBytes: 6, ChangedOldBytes: 5},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Images (-got +want):\n%s", diff)
	}

	same, err := Images(context.Background(), b, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(same.Changes) != 0 {
		t.Errorf("an image against itself: %v, want no change", same.Changes)
	}
}

func TestSharing(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := layerOf(t, ent{name: "base", body: "0123456789"})
	for name, img := range map[string]v1.Image{
		"base:1": imageOf(t, base),
		"one:1":  imageOf(t, base, layerOf(t, ent{name: "one", body: "1"})),
		"two:1":  imageOf(t, base, layerOf(t, ent{name: "two", body: "22"})),
		"solo:1": imageOf(t, layerOf(t, ent{name: "solo", body: "333"})),
	} {
		if _, err := st.WriteImage(ctx, img, name); err != nil {
			t.Fatal(err)
		}
	}
	usage, err := Sharing(st)
	if err != nil {
		t.Fatal(err)
	}
	size := func(l v1.Layer) int64 { // docker's size: the content's bytes
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		n, err := st.LayerContentSize(v1.Descriptor{Digest: d})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	baseSize := size(base)
	got := map[string]Usage{}
	for _, n := range []string{"base:1", "one:1", "two:1", "solo:1"} {
		_, rec, err := st.Image(n)
		if err != nil {
			t.Fatal(err)
		}
		got[n] = usage[rec.Manifest]
		if u := usage[rec.Manifest]; u.Size != rec.Size || u.SharedSize+u.UniqueSize != u.Size {
			t.Errorf("%s: usage %+v does not add up to the record's size %d", n, u, rec.Size)
		}
	}
	for n, u := range got {
		wantShared := baseSize
		if n == "solo:1" {
			wantShared = 0
		}
		if u.SharedSize != wantShared {
			t.Errorf("%s: shared size %d, want %d", n, u.SharedSize, wantShared)
		}
	}
	if got["base:1"].UniqueSize != 0 || got["one:1"].UniqueSize == 0 || got["one:1"].SharedLayers != 1 {
		t.Errorf("usage %+v: want base:1 with nothing unique, one:1 with its own layer unique", got)
	}
}
