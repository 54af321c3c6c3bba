package layer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The benchmarks report MB/s of file content (b.SetBytes): run them with
//
//	go test -run '^$' -bench . -benchtime 5x ./internal/layer/
//
// bench/run.sh measures the same paths end to end against BuildKit.

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

// benchTar returns the layer tar of benchTree and its content bytes.
func benchTar(b *testing.B) ([]byte, int64) {
	b.Helper()
	dir, total := benchTree(b)
	var buf bytes.Buffer
	if _, err := WriteTar(context.Background(), dir, &buf, WriteOptions{Format: DiffFormat}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), total
}

// BenchmarkWriteTar is the layer writer alone: a tree to an uncompressed tar,
// which is what a build commits.
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

// BenchmarkWriteTarCompressed is the layer writer streaming into the
// compressor, with the diff_id and the blob digest computed in the same pass,
// as a push or a compressed output does.
func BenchmarkWriteTarCompressed(b *testing.B) {
	dir, total := benchTree(b)
	for _, alg := range []Compression{Gzip, Zstd} {
		b.Run(string(alg), func(b *testing.B) {
			b.SetBytes(total)
			for b.Loop() {
				blob := sha256.New()
				zw, err := Compress(blob, alg, 0)
				if err != nil {
					b.Fatal(err)
				}
				diffID := sha256.New()
				if _, err := WriteTar(context.Background(), dir, io.MultiWriter(zw, diffID), WriteOptions{Format: DiffFormat}); err != nil {
					b.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
				_, _ = blob.Sum(nil), diffID.Sum(nil)
			}
		})
	}
}

// BenchmarkOverlayDiff is the overlay differ: benchTree is the lower layer of
// a real overlayfs mount in which a RUN-like change rewrites 500 files,
// deletes 200 (whiteouts), replaces 5 directories (2 of them made again:
// opaque), and adds 500 files; the benchmark writes the upper dir as a layer.
// Only the upper dir is read, however large the lower layers are.
func BenchmarkOverlayDiff(b *testing.B) {
	lower, _ := benchTree(b)
	base := b.TempDir()
	upper, work, merged := filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{upper, work, merged} {
		must(b, os.Mkdir(d, 0o755))
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		b.Fatalf("mounting overlayfs: %v", err)
	}
	data := compressible(20 << 10)
	for i := range 500 {
		data[1] = byte(i)
		p := filepath.Join(merged, fmt.Sprintf("dir%02d/file%03d", 10+i%25, i/25))
		must(b, os.WriteFile(p, data, 0o644))
		p = filepath.Join(merged, fmt.Sprintf("dir%02d/new%03d", i%40, i/40))
		must(b, os.WriteFile(p, data, 0o644))
	}
	for i := range 200 {
		must(b, os.Remove(filepath.Join(merged, fmt.Sprintf("dir%02d/file%03d", 35+i%5, i/5))))
	}
	for d := range 5 {
		p := filepath.Join(merged, fmt.Sprintf("dir%02d", d))
		must(b, os.RemoveAll(p))
		if d < 2 {
			must(b, os.Mkdir(p, 0o755))
			must(b, os.WriteFile(filepath.Join(p, "again"), data, 0o644))
		}
	}
	must(b, unix.Unmount(merged, 0))
	st, err := WriteTar(context.Background(), upper, io.Discard, WriteOptions{Format: DiffFormat})
	if err != nil {
		b.Fatal(err)
	}
	if st.Entries < 1000 {
		b.Fatalf("the upper dir gave %d entries: the change did not land there", st.Entries)
	}
	b.SetBytes(st.Bytes)
	b.ResetTimer()
	for b.Loop() {
		if _, err := WriteTar(context.Background(), upper, io.Discard, WriteOptions{Format: DiffFormat}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtract is the extractor: a layer tar into a new layer dir.
func BenchmarkExtract(b *testing.B) {
	tarball, total := benchTar(b)
	benchExtract(b, func() io.Reader { return bytes.NewReader(tarball) }, total)
}

// BenchmarkExtractCompressed is a pull's extraction: decompression and
// extraction of a compressed layer.
func BenchmarkExtractCompressed(b *testing.B) {
	tarball, total := benchTar(b)
	for _, alg := range []Compression{Gzip, Zstd} {
		b.Run(string(alg), func(b *testing.B) {
			blob := compressAll(b, tarball, alg, 1<<20)
			benchExtract(b, func() io.Reader {
				r, err := Decompress(bytes.NewReader(blob))
				if err != nil {
					b.Fatal(err)
				}
				return r
			}, total)
		})
	}
}

func benchExtract(b *testing.B, open func() io.Reader, total int64) {
	b.Helper()
	dstBase := b.TempDir()
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := filepath.Join(dstBase, fmt.Sprint(i))
		must(b, os.Mkdir(dst, 0o755))
		r := open()
		b.StartTimer()
		if _, err := Extract(context.Background(), r, dst, ExtractOptions{Format: DiffFormat}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		must(b, os.RemoveAll(dst))
		b.StartTimer()
	}
}

// BenchmarkDecompress is decompression alone, for comparison with the
// extraction benchmarks.
func BenchmarkDecompress(b *testing.B) {
	data := compressible(16 << 20)
	for _, alg := range []Compression{Gzip, Zstd} {
		b.Run(string(alg), func(b *testing.B) {
			blob := compressAll(b, data, alg, 1<<20)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				r, err := Decompress(bytes.NewReader(blob))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				must(b, r.Close())
			}
		})
	}
}
