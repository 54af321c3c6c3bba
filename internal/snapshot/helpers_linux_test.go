package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/layer"
)

// oldTime is the mtime setup layers give every path, so that a test can
// tell kept times from new ones.
var oldTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// requireRoot fails the test unless it runs as root: snapshots mount,
// chown and make device nodes.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the snapshot tests need root (mounts, chown, mknod): run them as root")
	}
}

// inMountNS runs fn on a thread of its own in a new private mount
// namespace; the thread dies with the goroutine, and its mounts with it.
func inMountNS(t testing.TB, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with us
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("unsharing the mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("making mounts private: %w", err)
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// step prepares a snapshot of lowers with sn, mounts it, runs op on the
// mount point, and commits: it returns the layer dir (moved out of the
// snapshot, into t's temp dir).
func step(t testing.TB, sn Snapshotter, lowers []string, op func(root string) error) string {
	t.Helper()
	ctx := context.Background()
	s, err := sn.Prepare(ctx, lowers)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	defer func() {
		if err := sn.Remove(s); err != nil {
			t.Errorf("remove: %v", err)
		}
	}()
	target, empty := t.TempDir(), t.TempDir()
	inMountNS(t, func() error {
		m := s.Mount()
		m.Empty = empty
		if err := m.Apply(target); err != nil {
			return fmt.Errorf("mounting: %w", err)
		}
		if err := op(target); err != nil {
			return fmt.Errorf("running the step: %w", err)
		}
		return unix.Unmount(target, 0)
	})
	upper, err := sn.Commit(ctx, s)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	kept := filepath.Join(t.TempDir(), "layer")
	if err := os.Rename(upper, kept); err != nil {
		t.Fatal(err)
	}
	return kept
}

// ageTree sets every mtime under dir to oldTime.
func ageTree(dir string) error {
	ts := []unix.Timespec{unix.NsecToTimespec(oldTime.UnixNano()), unix.NsecToTimespec(oldTime.UnixNano())}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	})
	if err != nil {
		return err
	}
	slices.Reverse(paths) // children first: their times do not touch parents, but be safe
	for _, p := range paths {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return nil
}

// tarEntries writes dir's layer tar and returns one line per entry: name,
// type, mode, owner, size, mtime (or "new" for one after oldTime), link
// target, xattrs and content digest.
func tarEntries(t testing.TB, dir string) []string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := layer.WriteTar(context.Background(), dir, &buf, layer.WriteOptions{Format: layer.DiffFormat}); err != nil {
		t.Fatalf("writing the layer tar of %s: %v", dir, err)
	}
	tr := tar.NewReader(&buf)
	var out []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, tr); err != nil {
			t.Fatal(err)
		}
		mtime := "new"
		if !hdr.ModTime.After(oldTime) {
			mtime = hdr.ModTime.UTC().Format("2006")
		}
		var xs []string
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				xs = append(xs, k[len("SCHILY.xattr."):]+"="+hex.EncodeToString([]byte(v)))
			}
		}
		slices.Sort(xs)
		out = append(out, fmt.Sprintf("%s %c %o %d:%d %d %s link=%s dev=%d:%d %v %x", hdr.Name, hdr.Typeflag, hdr.Mode,
			hdr.Uid, hdr.Gid, hdr.Size, mtime, hdr.Linkname, hdr.Devmajor, hdr.Devminor, xs, h.Sum(nil)[:6]))
	}
}

// names returns the first field (the entry name) of each tarEntries line.
func names(entries []string) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		name, _, _ := strings.Cut(e, " ")
		out[i] = strings.TrimSuffix(name, "/")
	}
	return out
}

// ops that scenarios are made of.

func write(rel, data string) func(string) error {
	return func(root string) error {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(data), 0o644)
	}
}

func mkdir(rel string) func(string) error {
	return func(root string) error { return os.MkdirAll(filepath.Join(root, rel), 0o755) }
}

func remove(rel string) func(string) error {
	return func(root string) error { return os.RemoveAll(filepath.Join(root, rel)) }
}

func chmod(rel string, mode os.FileMode) func(string) error {
	return func(root string) error { return os.Chmod(filepath.Join(root, rel), mode) }
}

func chown(rel string, uid, gid int) func(string) error {
	return func(root string) error { return os.Lchown(filepath.Join(root, rel), uid, gid) }
}

func setxattr(rel, name string, value []byte) func(string) error {
	return func(root string) error { return unix.Lsetxattr(filepath.Join(root, rel), name, value, 0) }
}

func link(oldRel, newRel string) func(string) error {
	return func(root string) error { return os.Link(filepath.Join(root, oldRel), filepath.Join(root, newRel)) }
}

func symlink(target, rel string) func(string) error {
	return func(root string) error { return os.Symlink(target, filepath.Join(root, rel)) }
}

func mknod(rel string, mode uint32, dev int) func(string) error {
	return func(root string) error { return unix.Mknod(filepath.Join(root, rel), mode, dev) }
}

func rename(oldRel, newRel string) func(string) error {
	return func(root string) error { return os.Rename(filepath.Join(root, oldRel), filepath.Join(root, newRel)) }
}

// touchOld sets rel's mtime back to oldTime.
func touchOld(rel string) func(string) error {
	return func(root string) error {
		ts := []unix.Timespec{unix.NsecToTimespec(oldTime.UnixNano()), unix.NsecToTimespec(oldTime.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, rel), ts, unix.AT_SYMLINK_NOFOLLOW)
	}
}

func seq(ops ...func(string) error) func(string) error {
	return func(root string) error {
		for _, op := range ops {
			if err := op(root); err != nil {
				return err
			}
		}
		return nil
	}
}
