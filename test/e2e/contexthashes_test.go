package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestContextHashesKept: the file hashes of a context are kept in the store
// between builds (processes), and an edit that keeps a file's size and
// mtime still reruns the COPY that takes it: the kept hash is of the old
// ctime.
func TestContextHashesKept(t *testing.T) {
	s := newStrata(t)
	dir := bldContext(t, "FROM busybox\nCOPY app /app\nRUN cat /app/a\n", map[string]string{"app/a": "one", "app/b": "b"})
	// files younger than 2 s are hashed but not kept (they could still
	// change within their timestamp's tick)
	time.Sleep(2100 * time.Millisecond)
	s.must("build", "--progress", "plain", "-t", "ctx", dir)
	if ents, err := os.ReadDir(filepath.Join(s.root, "context-hashes")); err != nil || len(ents) != 1 {
		t.Fatalf("context-hashes after the first build: %d entries (%v), want 1", len(ents), err)
	}
	out := s.must("build", "--progress", "plain", "-t", "ctx", dir).stderr
	if st := bldStatus(t, out, "COPY app /app"); st != "CACHED" {
		t.Errorf("no-op rebuild: COPY %s, want CACHED", st)
	}

	p := filepath.Join(dir, "app/a")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	out = s.must("build", "--progress", "plain", "-t", "ctx", dir).stderr
	if st := bldStatus(t, out, "COPY app /app"); st != "DONE" {
		t.Errorf("after an edit of the same size and mtime: COPY %s, want DONE", st)
	}
	if got := s.must("run", "--rm", "ctx", "cat", "/app/a").stdout; got != "two" {
		t.Errorf("the image has /app/a = %q, want %q", got, "two")
	}
}
