package output

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzReadArchive feeds ReadArchive (docker-archive, both generations, and
// OCI-layout tars) any bytes, then reads every image it accepts the way
// load does: manifest, config, and each layer's uncompressed stream to the
// end. Nothing may panic, every error must be one of ReadArchive's own
// ("reading archive ..."), and an accepted layer must either read to its diff_id or
// fail. The seed corpus is testdata/fuzz/FuzzReadArchive (a docker archive,
// an OCI archive and a docker archive with gzip layers).
func FuzzReadArchive(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "archive.tar")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		imgs, err := ReadArchive(ctx, p)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "reading archive ") {
				t.Fatalf("error without the package's prefix: %v", err)
			}
			return
		}
		for _, ni := range imgs {
			if _, err := ni.Image.Manifest(); err != nil {
				continue
			}
			if _, err := ni.Image.ConfigFile(); err != nil {
				continue
			}
			layers, err := ni.Image.Layers()
			if err != nil {
				continue
			}
			for _, l := range layers {
				rc, err := l.Uncompressed()
				if err != nil {
					continue
				}
				// Bounded: a small input must not expand without end.
				_, _ = io.CopyN(io.Discard, rc, 64<<20)
				rc.Close()
			}
		}
	})
}
