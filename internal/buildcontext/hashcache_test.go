package buildcontext

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// noRacy makes every hash keepable for the test: the files a test writes
// are otherwise too new to be kept.
func noRacy(t *testing.T) {
	old := racyWindow
	racyWindow = 0
	t.Cleanup(func() { racyWindow = old })
}

// keepHashes is what c would leave for the next process.
func keepHashes(t *testing.T, c *Context) []byte {
	t.Helper()
	data, _ := c.EncodeHashes()
	return data
}

// digestOf digests the sources srcs of c.
func digestOf(t *testing.T, c *Context, srcs ...string) string {
	t.Helper()
	sel, err := c.Select(srcs)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Digest(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// digestAll digests the whole context.
func digestAll(t *testing.T, c *Context) string {
	t.Helper()
	return digestOf(t, c, ".")
}

func openCtx(t *testing.T, dir string, kept []byte) *Context {
	t.Helper()
	c, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LoadHashes(kept); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHashesKeptReadNothing(t *testing.T) {
	noRacy(t)
	dir := t.TempDir()
	files := map[string]string{".dockerignore": "*.log\n", "skip.log": "x"}
	for i := range 50 {
		files[fmt.Sprintf("d%d/f%d", i%5, i)] = fmt.Sprint("content ", i)
	}
	writeTree(t, dir, files)
	if err := unix.Lsetxattr(filepath.Join(dir, "d0/f0"), "user.strata", []byte("v"), 0); err != nil {
		t.Fatalf("setting an xattr (the test needs a filesystem with user xattrs): %v", err)
	}
	c := openCtx(t, dir, nil)
	want := digestAll(t, c)
	if n := c.FilesRead(); n != 51 { // the 50 and .dockerignore
		t.Fatalf("first digest read %d files, want 51", n)
	}
	kept, changed := c.EncodeHashes()
	if !changed {
		t.Fatal("EncodeHashes: nothing to keep after reading 51 files")
	}

	c2 := openCtx(t, dir, kept)
	if got := digestAll(t, c2); got != want {
		t.Fatalf("digest with kept hashes %s, want %s", got, want)
	}
	if n := c2.FilesRead(); n != 0 {
		t.Errorf("digest with kept hashes read %d files, want 0", n)
	}
	if _, changed := c2.EncodeHashes(); changed {
		t.Error("EncodeHashes: changed after reading nothing")
	}

	// an attribute set since changes the ctime: that file is read again
	if err := unix.Lsetxattr(filepath.Join(dir, "d0/f0"), "user.strata", []byte("w"), 0); err != nil {
		t.Fatal(err)
	}
	c3 := openCtx(t, dir, kept)
	if got := digestAll(t, c3); got == want {
		t.Error("an xattr changed and the digest did not")
	}
	if n := c3.FilesRead(); n != 1 {
		t.Errorf("read %d files after one changed, want 1", n)
	}
	if got, fresh := digestAll(t, c3), digestAll(t, openCtx(t, dir, nil)); got != fresh {
		t.Errorf("digest with kept hashes %s, without %s", got, fresh)
	}
}

func TestHashesOneVersionPerPath(t *testing.T) {
	noRacy(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "1", "b": "2"})
	c := openCtx(t, dir, nil)
	digestAll(t, c)
	v1 := keepHashes(t, c)
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	c2 := openCtx(t, dir, v1)
	digestAll(t, c2)
	v2 := keepHashes(t, c2)
	entries, err := decodeHashes(v2, dir+"/")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range entries {
		seen[filepath.Base(e.key.path)]++
	}
	if seen["a"] != 1 || seen["b"] != 1 || len(seen) != 2 {
		t.Errorf("kept entries by file %v, want one each of a and b", seen)
	}
	// only b was used by a digest of b alone: a's entry stays too
	c3 := openCtx(t, dir, v2)
	sel, err := c3.Select([]string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c3.Digest(context.Background(), sel); err != nil {
		t.Fatal(err)
	}
	c3.hashesAdded = true // force an encoding
	v3, _ := c3.EncodeHashes()
	if entries, err := decodeHashes(v3, dir+"/"); err != nil || len(entries) != 2 {
		t.Errorf("after digesting b alone: %d entries (%v), want 2", len(entries), err)
	}
}

func TestHashesRacyNotKept(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"new": "just written"})
	c := openCtx(t, dir, nil)
	digestAll(t, c)
	if data, changed := c.EncodeHashes(); changed {
		t.Errorf("a file written %v ago was kept (%d bytes): it could still change without changing its ctime", racyWindow, len(data))
	}
	// the same file, once its ctime is older than the window, is kept
	old := racyWindow
	racyWindow = -time.Hour // as if hashed an hour later
	defer func() { racyWindow = old }()
	c2 := openCtx(t, dir, nil)
	digestAll(t, c2)
	if _, changed := c2.EncodeHashes(); !changed {
		t.Error("an old file was not kept")
	}
}

func TestHashesMalformed(t *testing.T) {
	noRacy(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "1", "sub/b": "2"})
	if err := unix.Lsetxattr(filepath.Join(dir, "a"), "user.x", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	c := openCtx(t, dir, nil)
	want := digestAll(t, c)
	good := keepHashes(t, c)
	for _, data := range [][]byte{[]byte("garbage"), []byte("strata context hashes 0\n")} {
		c2, _ := Open(dir, "")
		if err := c2.LoadHashes(data); err == nil {
			t.Errorf("LoadHashes(%q): no error", data)
		}
	}
	// every truncation is refused or loads whole entries only, and the
	// digest is right either way
	for n := len(hashesMagic); n < len(good); n++ {
		c2, _ := Open(dir, "")
		err := c2.LoadHashes(good[:n])
		if err == nil && n != len(good) {
			entries, _ := decodeHashes(good[:n], dir+"/")
			if len(entries) == 2 {
				t.Errorf("truncated at %d of %d: loaded all entries", n, len(good))
			}
		}
		if got := digestAll(t, c2); got != want {
			t.Fatalf("truncated at %d: digest %s, want %s", n, got, want)
		}
	}
	// entries of another directory are not taken
	other := t.TempDir()
	writeTree(t, other, map[string]string{"a": "1", "sub/b": "2"})
	if entries, err := decodeHashes(good, other+"/"); err != nil || len(entries) != 0 {
		t.Errorf("another directory's view of the cache: %d entries (%v), want 0", len(entries), err)
	}
	if !bytes.HasPrefix(good, []byte(hashesMagic)) {
		t.Error("encoding does not start with its magic")
	}
}
