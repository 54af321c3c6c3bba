package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"
)

// compressible returns n bytes of fixed, text-like data that compresses
// about as well as a typical layer.
func compressible(n int) []byte {
	words := strings.Fields("the quick brown fox jumps over lazy dog usr lib bin etc " +
		"x86_64-linux-gnu libc.so.6 ELF \x00\x00\x00\x01 \x7fELF\x02\x01 busybox apt dpkg")
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(10) == 0 {
			var noise [16]byte
			for i := range noise {
				noise[i] = byte(r.Uint32())
			}
			b.Write(noise[:])
		}
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(" \n"[r.IntN(2)])
	}
	return b.Bytes()[:n]
}

// compressAll compresses data with alg, written in chunks of chunk bytes.
func compressAll(t testing.TB, data []byte, alg Compression, chunk int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := Compress(&out, alg, 0)
	must(t, err)
	for len(data) > 0 {
		n := min(chunk, len(data))
		_, err := w.Write(data[:n])
		must(t, err)
		data = data[n:]
	}
	must(t, w.Close())
	return out.Bytes()
}

// TestCompressDeterministic pins the compressed bytes of 8 MB at several
// GOMAXPROCS and write sizes: a layer's blob digest must not depend on the
// machine that made it. The pinned values change only with the compression
// libraries.
func TestCompressDeterministic(t *testing.T) {
	data := compressible(8 << 20)
	tests := []struct {
		alg  Compression
		want string
	}{
		{Gzip, "14723397e815e91ba5a9a49e0f510bbe0a70fed3a4175e188d4b1c1eb334473c"},
		{Zstd, "9ca2d85b76e055e1e11ef8f6a595f3b52aeb9c838de0515c21146949116ff226"},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
			for _, procs := range []int{1, 2, 8} {
				for _, chunk := range []int{len(data), 100_000, 4096 + 7} {
					runtime.GOMAXPROCS(procs)
					c := compressAll(t, data, tt.alg, chunk)
					sum := sha256.Sum256(c)
					if got := hex.EncodeToString(sum[:]); got != tt.want {
						t.Errorf("GOMAXPROCS=%d, writes of %d: sha256 = %s, want %s", procs, chunk, got, tt.want)
					}
				}
			}
			c := compressAll(t, data, tt.alg, 1<<20)
			r, err := Decompress(bytes.NewReader(c))
			must(t, err)
			back, err := io.ReadAll(r)
			must(t, err)
			must(t, r.Close())
			if !bytes.Equal(back, data) {
				t.Errorf("Decompress(Compress(data)) differs from data")
			}
			if len(c) > len(data)/2 {
				t.Errorf("compressed to %d of %d bytes: not compressing", len(c), len(data))
			}
		})
	}
}

// bzip2Hello is "hello bzip2\n" as made by bzip2 -9 (the standard library
// has no bzip2 writer).
var bzip2Hello = []byte{0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0xab, 0x6b, 0xa1, 0xf1, 0x00, 0x00, 0x02, 0xd9, 0x80, 0x00, 0x10, 0x40, 0x00, 0x10, 0x00, 0x12, 0x64, 0xc0, 0x10, 0x20, 0x00, 0x31, 0x00, 0xd3, 0x4d, 0x04, 0x00, 0x1e, 0xa3, 0xef, 0x4e, 0x51, 0xa2, 0x07, 0x8b, 0xb9, 0x22, 0x9c, 0x28, 0x48, 0x55, 0xb5, 0xd0, 0xf8, 0x80}

func TestDetectAndDecompress(t *testing.T) {
	xzData := func() []byte {
		var b bytes.Buffer
		w, err := xz.NewWriter(&b)
		must(t, err)
		_, err = io.WriteString(w, "hello xz\n")
		must(t, err)
		must(t, w.Close())
		return b.Bytes()
	}
	tests := []struct {
		name  string
		input []byte
		want  string // Detect's answer
		plain string
	}{
		{"gzip", compressAll(t, []byte("hello gzip\n"), Gzip, 100), "gzip", "hello gzip\n"},
		{"zstd", compressAll(t, []byte("hello zstd\n"), Zstd, 100), "zstd", "hello zstd\n"},
		{"xz", xzData(), "xz", "hello xz\n"},
		{"bzip2", bzip2Hello, "bzip2", "hello bzip2\n"},
		{"plain", []byte("hello plain\n"), "none", "hello plain\n"},
		{"uncompressed writer", compressAll(t, []byte("as is"), Uncompressed, 2), "none", "as is"},
		{"short", []byte{0x1f}, "none", "\x1f"},
		{"empty", nil, "none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, r, err := Detect(bytes.NewReader(tt.input))
			must(t, err)
			if got != tt.want {
				t.Errorf("Detect = %q, want %q", got, tt.want)
			}
			rest, err := io.ReadAll(r)
			must(t, err)
			if !bytes.Equal(rest, tt.input) {
				t.Errorf("Detect's reader lost bytes: got %d, want %d", len(rest), len(tt.input))
			}
			dr, err := Decompress(bytes.NewReader(tt.input))
			must(t, err)
			plain, err := io.ReadAll(dr)
			must(t, err)
			must(t, dr.Close())
			if diff := cmp.Diff(string(plain), tt.plain); diff != "" {
				t.Errorf("Decompress (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCompressUnknown(t *testing.T) {
	if _, err := Compress(io.Discard, "lz4", 0); err == nil || !strings.Contains(err.Error(), `unknown compression "lz4"`) {
		t.Errorf("Compress(lz4) error = %v", err)
	}
	if _, err := Compress(io.Discard, Gzip, 42); err == nil {
		t.Errorf("Compress(gzip, 42) succeeded")
	}
}

func TestIsTar(t *testing.T) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	must(t, tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 1}))
	_, err := tw.Write([]byte("x"))
	must(t, err)
	must(t, tw.Close())
	var empty bytes.Buffer
	must(t, tar.NewWriter(&empty).Close())
	tests := []struct {
		name  string
		input []byte
		want  bool
	}{
		{"tar", tb.Bytes(), true},
		{"gzip tar", compressAll(t, tb.Bytes(), Gzip, 1<<20), true},
		{"zstd tar", compressAll(t, tb.Bytes(), Zstd, 1<<20), true},
		{"empty tar", empty.Bytes(), false},
		{"text", []byte(strings.Repeat("not a tar\n", 100)), false},
		{"gzip text", compressAll(t, []byte(strings.Repeat("not a tar\n", 100)), Gzip, 1<<20), false},
		{"bzip2 text", bzip2Hello, false},
		{"nothing", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTar(bytes.NewReader(tt.input)); got != tt.want {
				t.Errorf("IsTar = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkCompressGzip(b *testing.B) {
	data := compressible(16 << 20)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		w, err := Compress(io.Discard, Gzip, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
