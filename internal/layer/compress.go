package layer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/ulikunitz/xz"
)

// Compression is a layer compression algorithm that Compress can write.
type Compression string

const (
	// Uncompressed writes the tar as it is.
	Uncompressed Compression = "none"
	// Gzip writes gzip, compressed in parallel blocks of a fixed size.
	Gzip Compression = "gzip"
	// Zstd writes zstd.
	Zstd Compression = "zstd"
)

// The names Detect returns for the formats that Compress does not write.
const (
	detectXz    = "xz"
	detectBzip2 = "bzip2"
)

const (
	// gzipBlockSize is the pgzip block size. The output depends on it and
	// on nothing else, so it never changes with the machine.
	gzipBlockSize = 1 << 20
	// zstdConcurrency is the zstd encoder concurrency, fixed for the same
	// reason.
	zstdConcurrency = 2
)

var magics = []struct {
	name  string
	magic []byte
}{
	{string(Gzip), []byte{0x1f, 0x8b}},
	{string(Zstd), []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{detectXz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{detectBzip2, []byte{'B', 'Z', 'h'}},
}

// Detect returns the compression of a stream from its first bytes ("gzip",
// "zstd", "xz", "bzip2" or "none") and a reader that still yields those
// bytes.
func Detect(r io.Reader) (string, io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF {
		return "", nil, fmt.Errorf("detecting compression: %w", err)
	}
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.name, br, nil
		}
	}
	return string(Uncompressed), br, nil
}

// Decompress detects gzip, zstd, xz, bzip2 or plain and returns the
// decompressed stream. Closing it releases the decoder; it does not close r.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	alg, br, err := Detect(r)
	if err != nil {
		return nil, err
	}
	switch alg {
	case string(Gzip):
		zr, err := pgzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip: %w", err)
		}
		return zr, nil
	case string(Zstd):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	case detectXz:
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading xz: %w", err)
		}
		return io.NopCloser(xr), nil
	case detectBzip2:
		return io.NopCloser(bzip2.NewReader(br)), nil
	}
	return io.NopCloser(br), nil
}

// Compress wraps w so that what is written to it is compressed with alg;
// level 0 is the algorithm's default. Closing the writer flushes it but does
// not close w. Gzip is compressed in parallel in blocks of a fixed size, so
// its output is the same bytes whatever GOMAXPROCS; zstd likewise uses a
// fixed concurrency.
func Compress(w io.Writer, alg Compression, level int) (io.WriteCloser, error) {
	switch alg {
	case Uncompressed, "":
		return nopWriteCloser{w}, nil
	case Gzip:
		if level == 0 {
			level = pgzip.DefaultCompression
		}
		zw, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, fmt.Errorf("starting gzip: %w", err)
		}
		// The number of blocks in flight only bounds parallelism; the block
		// size alone decides the output.
		if err := zw.SetConcurrency(gzipBlockSize, max(runtime.GOMAXPROCS(0), 2)); err != nil {
			return nil, fmt.Errorf("starting gzip: %w", err)
		}
		return zw, nil
	case Zstd:
		opts := []zstd.EOption{zstd.WithEncoderConcurrency(zstdConcurrency)}
		if level != 0 {
			opts = append(opts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)))
		}
		zw, err := zstd.NewWriter(w, opts...)
		if err != nil {
			return nil, fmt.Errorf("starting zstd: %w", err)
		}
		return zw, nil
	}
	return nil, fmt.Errorf("unknown compression %q", alg)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// IsTar reports whether the stream, once decompressed, starts with a valid
// tar header, as docker's ADD decides whether to unpack a local file. It
// reads from r; an empty tar is not a tar.
func IsTar(r io.Reader) bool {
	dr, err := Decompress(r)
	if err != nil {
		return false
	}
	defer dr.Close()
	_, err = tar.NewReader(dr).Next()
	return err == nil
}
