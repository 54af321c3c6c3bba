package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// unsyncedFile, in a layer dir, names the boot during which the dir was
// added without its files being synced to disk.
const unsyncedFile = "unsynced"

// bootID returns this boot's id, or "" where the kernel does not say. It
// is read once per process: HasBlob and HasLayerDir compare it with a mark
// on every call.
var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// AddUnsyncedLayerDir is AddLayerDir for a dir whose files may not be on
// disk yet (a build's overlay upper dir, mounted volatile so that its
// unmount did not sync the whole filesystem). Should the machine go down
// before the files reach the disk, the dir is checked against its diff_id
// when next used after the reboot and dropped if it is damaged: it is then
// extracted again from the layer's blob when that survived (a build's blob
// is not synced either: see WriteKeptLayerBlob), or, for a layer kept
// without a blob (a build stage that reaches no image) or whose blob was
// lost too, the cache records that need it miss and the step runs again.
func (s *Store) AddUnsyncedLayerDir(chainID, diffID v1.Hash, dir string) (LayerDir, error) {
	return s.addLayerDir(chainID, diffID, dir, bootID())
}

// checkUnsynced decides whether the layer dir ld, whose files were not
// synced during boot, can be used. During the same boot the page cache holds
// them: yes. After a reboot the dir is checked once against its diff_id;
// a damaged dir is removed, and false returned, so that the layer is
// extracted again from its blob.
func (s *Store) checkUnsynced(ld LayerDir, boot string) bool {
	if boot != "" && boot == bootID() {
		return true
	}
	got, err := treeHash(context.Background(), ld.Path)
	dir := filepath.Dir(ld.Path)
	if err == nil && got == ld.DiffID.Hex {
		// What the disk holds is the layer: it survived the reboot.
		os.Remove(filepath.Join(dir, unsyncedFile))
		return true
	}
	if tmp, err := s.TempDir("damaged-"); err == nil {
		if os.Rename(dir, filepath.Join(tmp, "layer")) == nil {
			os.RemoveAll(tmp)
		} else {
			os.Remove(tmp)
		}
	}
	return false
}

// unsyncedBlobs holds a file for each blob committed without a sync
// (CommitUnsynced), named by the blob's hex digest, holding the boot during
// which it was written.
const unsyncedBlobs = "unsynced-blobs"

// markUnsynced records that the blob h is about to be stored without a
// sync. The mark is synced before the blob gets its name, so that no crash
// can leave the named blob unmarked.
func (s *Store) markUnsynced(h v1.Hash) error {
	dir := s.path(unsyncedBlobs)
	if err := os.WriteFile(filepath.Join(dir, h.Hex), []byte(bootID()+"\n"), 0o644); err != nil {
		return fmt.Errorf("marking blob %s unsynced: %w", h, err)
	}
	return syncDir(dir)
}

// checkUnsyncedBlob decides whether the blob h, which the store has, can be
// used. A blob marked unsynced during this boot is in the page cache: yes.
// One marked during another boot is hashed once; if it does not match (the
// machine went down before its pages reached the disk) it is removed and
// false returned: the cache records that name it miss, and the next build
// that needs it runs the step again (TestBlobLostInACrash).
func (s *Store) checkUnsyncedBlob(h v1.Hash) bool {
	mark := s.path(unsyncedBlobs, h.Hex)
	b, err := os.ReadFile(mark)
	if err != nil {
		return true // never marked, or checked already
	}
	if boot := strings.TrimSpace(string(b)); boot != "" && boot == bootID() {
		return true
	}
	p := s.blobPath(h)
	if got, err := hashFile(p); err == nil && got == h.Hex {
		os.Remove(mark)
		return true
	}
	os.Remove(p)
	os.Remove(mark)
	return false
}
