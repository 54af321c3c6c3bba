package layer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchTree makes 2,000 files of 20 KiB (40 MB) in 40 directories and
// returns the directory and the content bytes.
func benchTree(b *testing.B) (string, int64) {
	b.Helper()
	dir := b.TempDir()
	data := compressible(20 << 10)
	var total int64
	for d := range 40 {
		sub := filepath.Join(dir, fmt.Sprintf("dir%02d", d))
		must(b, os.Mkdir(sub, 0o755))
		for f := range 50 {
			data[0] = byte(f) // not all the same file
			must(b, os.WriteFile(filepath.Join(sub, fmt.Sprintf("file%03d", f)), data, 0o644))
			total += int64(len(data))
		}
	}
	return dir, total
}

func BenchmarkWriteTar(b *testing.B) {
	dir, total := benchTree(b)
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		if _, err := WriteTar(context.Background(), dir, io.Discard, WriteOptions{Format: DiffFormat}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtract(b *testing.B) {
	dir, total := benchTree(b)
	var buf bytes.Buffer
	if _, err := WriteTar(context.Background(), dir, &buf, WriteOptions{Format: DiffFormat}); err != nil {
		b.Fatal(err)
	}
	dstBase := b.TempDir()
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := filepath.Join(dstBase, fmt.Sprint(i))
		must(b, os.Mkdir(dst, 0o755))
		b.StartTimer()
		if _, err := Extract(context.Background(), bytes.NewReader(buf.Bytes()), dst, ExtractOptions{Format: DiffFormat}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		must(b, os.RemoveAll(dst))
		b.StartTimer()
	}
}
