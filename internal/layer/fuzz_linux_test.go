package layer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzExtract checks that no tar makes Extract panic or write outside its
// root. The root is <tmp>/a/b/rootN, so that an escape of up to three
// levels lands in a directory the test watches; b also holds a canary
// file that must survive. The seed corpus (testdata/fuzz/FuzzExtract) holds
// hostile tars.
func FuzzExtract(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		tmp := t.TempDir()
		base := filepath.Join(tmp, "a", "b")
		canary := filepath.Join(base, "outside", "canary")
		writeFile(t, canary, "canary", 0o644, 0, 0)
		for i, format := range []Format{MergedFormat, DiffFormat} {
			root := filepath.Join(base, fmt.Sprintf("root%d", i))
			must(t, os.Mkdir(root, 0o755))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = Extract(ctx, bytes.NewReader(data), root, ExtractOptions{Format: format})
			cancel()
		}
		for dir, want := range map[string][]string{
			tmp:                            {"a"},
			filepath.Join(tmp, "a"):        {"b"},
			base:                           {"outside", "root0", "root1"},
			filepath.Join(base, "outside"): {"canary"},
		} {
			if diff := cmp.Diff(listDir(t, dir), want); diff != "" {
				t.Errorf("%s changed (-got +want):\n%s", dir, diff)
			}
		}
		assertFile(t, canary, "canary")
	})
}
