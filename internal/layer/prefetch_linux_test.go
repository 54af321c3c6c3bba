package layer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// buildWideTree makes a tree of many more entries than the prefetch window,
// in nested directories, with files on either side of prefetchSmall and
// hardlinks between a read-ahead file and a streamed one's group.
func buildWideTree(t *testing.T, dir string) {
	t.Helper()
	sizes := []int{0, 1, 100, prefetchSmall - 1, prefetchSmall, prefetchSmall + 1, 3*prefetchSmall + 5}
	for d := range 12 {
		for f := range 3 * prefetchWindow / 4 {
			n := sizes[(d+f)%len(sizes)]
			unit := fmt.Sprintf("%d/%d;", d, f)
			content := strings.Repeat(unit, n/len(unit)+1)[:n]
			writeFile(t, filepath.Join(dir, fmt.Sprintf("d%02d/s%d/f%03d", d, f%3, f)), content, 0o644, d, f)
		}
	}
	must(t, os.Link(filepath.Join(dir, "d00/s0/f000"), filepath.Join(dir, "d11/zz-link-small")))
	must(t, os.Link(filepath.Join(dir, "d00/s0/f006"), filepath.Join(dir, "d11/zz-link-large")))
	must(t, os.Symlink("d00/s0/f000", filepath.Join(dir, "link")))
	must(t, unix.Lsetxattr(filepath.Join(dir, "d05/s1/f007"), "user.note", []byte("kept"), 0))
	setMtimes(t, dir, time.Unix(1700000000, 0))
}

// TestWriteTarWide round-trips a tree wider than the prefetch window: the
// entries come out in order, every file whole, whether it was read ahead
// or streamed.
func TestWriteTarWide(t *testing.T) {
	src := t.TempDir()
	buildWideTree(t, src)
	want := snapshot(t, src)
	var buf bytes.Buffer
	ws, err := WriteTar(context.Background(), src, &buf, WriteOptions{Format: MergedFormat})
	must(t, err)
	if ws.Entries != len(want) {
		t.Errorf("WriteTar entries = %d, want %d", ws.Entries, len(want))
	}
	names := tarNames(t, buf.Bytes())
	for i := 1; i < len(names); i++ {
		if strings.TrimSuffix(names[i-1], "/") >= strings.TrimSuffix(names[i], "/") {
			t.Fatalf("entries out of order: %q before %q", names[i-1], names[i])
		}
	}
	dst := t.TempDir()
	_, err = Extract(context.Background(), bytes.NewReader(buf.Bytes()), dst, ExtractOptions{Format: MergedFormat})
	must(t, err)
	if diff := cmp.Diff(snapshot(t, dst), want); diff != "" {
		t.Errorf("extracted tree differs (-got +want):\n%s", diff)
	}
}

// TestWriteTarStopsEarly fails a walk in its middle, by a .wh. name and by
// a cancelled context: the prefetching goroutines end and every file they
// opened is closed.
func TestWriteTarStopsEarly(t *testing.T) {
	src := t.TempDir()
	buildWideTree(t, src)
	writeFile(t, filepath.Join(src, "d04/s1/.wh.bad"), "x", 0o644, 0, 0)
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)

	_, err := WriteTar(context.Background(), src, &bytes.Buffer{}, WriteOptions{Format: MergedFormat})
	if err == nil || !strings.Contains(err.Error(), "d04/s1/.wh.bad: a file named .wh.* cannot be stored") {
		t.Errorf("WriteTar error = %v, want one about d04/s1/.wh.bad", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = WriteTar(ctx, src, &cancelAfter{n: 1 << 20, cancel: cancel}, WriteOptions{Format: MergedFormat})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("WriteTar with a cancelled context: %v, want context.Canceled", err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > goroutines {
		t.Errorf("%d goroutines after the walks stopped, %d before", got, goroutines)
	}
	if got := openFDs(t); got != fds {
		t.Errorf("%d open files after the walks stopped, %d before", got, fds)
	}
}

// cancelAfter cancels its context once n bytes were written to it.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n <= 0 {
		w.cancel()
	}
	return len(p), nil
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	must(t, err)
	return len(ents)
}
