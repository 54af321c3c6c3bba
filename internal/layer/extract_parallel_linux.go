package layer

import (
	"archive/tar"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sync/semaphore"
	"golang.org/x/sys/unix"
)

// Creating a file costs far more kernel time than writing a small one, and
// creations in one directory are serialised by its lock, so Extract hands
// small regular files to a few goroutines, which then create files in
// several directories at once (tars list a directory, then its files).
// The tar is still read in order by one goroutine, which checks every name
// as before and creates every directory; it waits for the files in flight
// (flush) before a link, a node, a whiteout or an entry over an earlier one
// of the same tar, so none of them races a file being written.
const (
	parallelMaxSize = 1 << 20  // larger files are written in order
	parallelQueue   = 256      // files queued per writer
	parallelBytes   = 32 << 20 // content read ahead of the writers, at most
)

// fileJob is a small regular file to create, with its content.
type fileJob struct {
	target string
	hdr    *tar.Header
	data   []byte
}

// writers is the pool that writes fileJobs for one extractor. Files go to
// the writer of their directory, so that two writers work in two
// directories at once.
type writers struct {
	queues  []chan fileJob
	budget  *semaphore.Weighted // bytes of content in flight
	pending sync.WaitGroup
	mu      sync.Mutex
	err     error // the first failure, with its entry's name
	stop    sync.WaitGroup
}

// startWriters starts the pool of x, one writer per CPU (at most 4).
func (x *extractor) startWriters() {
	n := min(runtime.GOMAXPROCS(0), 4)
	if n < 2 {
		return // nothing to overlap with: write in order
	}
	w := &writers{budget: semaphore.NewWeighted(parallelBytes)}
	w.stop.Add(n)
	for range n {
		q := make(chan fileJob, parallelQueue)
		w.queues = append(w.queues, q)
		go func() {
			defer w.stop.Done()
			for j := range q {
				if err := x.createFile(j); err != nil {
					w.mu.Lock()
					if w.err == nil {
						w.err = entryErr(j.hdr.Name, "%w", err)
					}
					w.mu.Unlock()
				}
				w.budget.Release(int64(len(j.data)))
				w.pending.Done()
			}
		}()
	}
	x.writers = w
}

// stopWriters flushes and ends the pool, returning its first failure.
func (x *extractor) stopWriters() error {
	if x.writers == nil {
		return nil
	}
	err := x.flush()
	for _, q := range x.writers.queues {
		close(q)
	}
	x.writers.stop.Wait()
	x.writers = nil
	return err
}

// flush waits for the files in flight and returns the first failure.
func (x *extractor) flush() error {
	w := x.writers
	if w == nil {
		return nil
	}
	w.pending.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// parallel reports whether the entry for target goes to the writers: a
// small regular file that this tar has not written before (so no earlier
// file of the same name can be in flight).
func (x *extractor) parallel(hdr *tar.Header, target string) bool {
	return x.writers != nil && hdr.Typeflag == tar.TypeReg && hdr.Size <= parallelMaxSize && !x.written[target]
}

// queueFile reads the content of a small file and queues it for the writer
// of its directory.
func (x *extractor) queueFile(target string, hdr *tar.Header, r io.Reader) error {
	w := x.writers
	w.mu.Lock()
	err := w.err
	w.mu.Unlock()
	if err != nil {
		return err // stop reading once a file could not be written
	}
	if err := w.budget.Acquire(x.ctx, hdr.Size); err != nil {
		return err
	}
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(r, data); err != nil {
		w.budget.Release(hdr.Size)
		return fmt.Errorf("reading file: %w", err)
	}
	x.stats.Bytes += hdr.Size
	h := fnv.New32a()
	io.WriteString(h, filepath.Dir(target))
	q := w.queues[h.Sum32()%uint32(len(w.queues))]
	w.pending.Add(1)
	select {
	case q <- fileJob{target: target, hdr: hdr, data: data}:
		return nil
	case <-x.ctx.Done():
		w.budget.Release(hdr.Size)
		w.pending.Done()
		return x.ctx.Err()
	}
}

// createFile creates one queued file with its metadata.
func (x *extractor) createFile(j fileJob) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	f, err := os.OpenFile(j.target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("creating file: %w", err)
	}
	_, err = f.Write(j.data)
	if err == nil {
		err = x.setMetaFd(int(f.Fd()), j.hdr)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing file: %w", err)
	}
	return nil
}
