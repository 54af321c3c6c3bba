package layer

import (
	"archive/tar"
	"bytes"
	"testing"
)

func TestContentSize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tar.Header
		want    int64
	}{
		{"a WORKDIR layer", []tar.Header{{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755}}, 0},
		{"files, a hardlink, a symlink", []tar.Header{
			{Name: "d/", Typeflag: tar.TypeDir},
			{Name: "d/f", Typeflag: tar.TypeReg, Size: 1000},
			{Name: "d/g", Typeflag: tar.TypeLink, Linkname: "d/f"},
			{Name: "d/l", Typeflag: tar.TypeSymlink, Linkname: "f"},
			{Name: "d/.wh.gone", Typeflag: tar.TypeReg},
			{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3},
		}, 1001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tc.entries {
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
			got, err := ContentSize(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %d, want %d (the tar is %d bytes)", got, tc.want, buf.Len())
			}
		})
	}
}
