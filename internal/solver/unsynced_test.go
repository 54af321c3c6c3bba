package solver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestBlobLostInACrash checks what follows a crash that lost the blob of a
// layer a build made (a build's blobs are not synced: see
// store.WriteKeptLayerBlob): after the reboot the store drops the damaged
// blob when it is next used, reading it says so, the step's cache record
// (which names the blob) misses, and the next build runs the step again and
// writes the blob anew, which brings back the image tagged before.
func TestBlobLostInACrash(t *testing.T) {
	st := openStore(t)
	const df = "FROM scratch\nRUN write a 1\n"
	epoch := time.Unix(1700000000, 0) // the step makes the same layer again
	if _, err := fakeBuild(t, st, &fakeExec{}, df, nil, Options{Tags: []string{"app:one"}, SourceDateEpoch: &epoch}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	ids := diffIDsOf(t, st, "app:one")
	if len(ids) != 1 {
		t.Fatalf("the image has %d layers, want 1", len(ids))
	}
	h := ids[0]
	mark := filepath.Join(st.Root(), "unsynced-blobs", h.Hex)
	if _, err := os.Stat(mark); err != nil {
		t.Fatalf("the build's layer blob is not marked unsynced: %v", err)
	}
	// What a crash before the writeback leaves, seen after the reboot.
	if err := os.WriteFile(mark, []byte("another-boot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(st.Root(), "blobs", "sha256", h.Hex), 10); err != nil {
		t.Fatal(err)
	}

	if _, err := st.OpenBlob(h); err == nil || !strings.Contains(err.Error(), "did not survive") {
		t.Fatalf("OpenBlob of the lost blob after the reboot: %v, want an error saying it did not survive", err)
	}

	fx := &fakeExec{}
	if _, err := fakeBuild(t, st, fx, df, nil, Options{Tags: []string{"app:two"}, SourceDateEpoch: &epoch}); err != nil {
		t.Fatalf("Build after the crash: %v", err)
	}
	if got := len(fx.scripts()); got != 1 {
		t.Errorf("RUNs after the crash: %d, want 1 (the record names a lost blob)", got)
	}
	if diff := cmp.Diff(diffIDsOf(t, st, "app:two"), ids); diff != "" {
		t.Errorf("diff_ids (-got +want):\n%s", diff)
	}
	rc, err := st.OpenBlob(h)
	if err != nil {
		t.Fatalf("the blob was not written again: %v", err)
	}
	rc.Close()
	if diff := cmp.Diff(imageFiles(t, st, "app:one"), map[string]string{"/a": "1"}); diff != "" {
		t.Errorf("files of the image tagged before the crash (-got +want):\n%s", diff)
	}
}
