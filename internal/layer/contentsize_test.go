package layer

import (
	"archive/tar"
	"bytes"
	"testing"
)

// contentSizeCase is a layer tar and its content size.
type contentSizeCase struct {
	name    string
	entries []tar.Header
	want    int64
}

func contentSizeCases() []contentSizeCase {
	return []contentSizeCase{
		{"a WORKDIR layer", []tar.Header{{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755}}, 0},
		{"files, a hardlink, a symlink", []tar.Header{
			{Name: "d/", Typeflag: tar.TypeDir},
			{Name: "d/f", Typeflag: tar.TypeReg, Size: 1000},
			{Name: "d/g", Typeflag: tar.TypeLink, Linkname: "d/f"},
			{Name: "d/l", Typeflag: tar.TypeSymlink, Linkname: "f"},
			{Name: "d/.wh.gone", Typeflag: tar.TypeReg},
			{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3},
		}, 1001},
	}
}

// tarOf writes a tar of entries, regular files full of zeros.
func tarOf(t *testing.T, entries []tar.Header) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(make([]byte, h.Size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestContentSize(t *testing.T) {
	for _, tc := range contentSizeCases() {
		t.Run(tc.name, func(t *testing.T) {
			buf := tarOf(t, tc.entries)
			n := buf.Len()
			got, err := ContentSize(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %d, want %d (the tar is %d bytes)", got, tc.want, n)
			}
		})
	}
}
