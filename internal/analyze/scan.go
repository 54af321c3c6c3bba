package analyze

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/strata-build/strata/internal/iox"
	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/pkgdb"
)

// entryKind is what a layer tar entry does to the filesystem.
type entryKind uint8

const (
	kindFile     entryKind = iota // a regular file, hardlink, symlink or device
	kindDir                       // a directory
	kindWhiteout                  // .wh.<name>: deletes name
	kindOpaque                    // <dir>/.wh..wh..opq: clears dir's earlier content
)

// entry is one tar entry of a layer, reduced to what the replay needs.
type entry struct {
	path string // slash-separated, no leading or trailing slash; for whiteouts the deleted path, for opaques the directory
	kind entryKind
	size int64
	link string // a symlink's target
	meta meta   // a regular file's content hash, mode and owner
}

// meta is what tells a copy-up (a file written again with the same
// content) from a real change: the content's hash and the metadata.
type meta struct {
	sum      uint64 // maphash of the content, 0 for all but regular files with content
	mode     int64
	uid, gid int
}

// scan is what one pass over a layer learned.
type scan struct {
	entries    []entry
	dbs        map[string][]byte        // absolute path → content of the package databases pkgdb.Wanted
	gobins     map[string]pkgdb.Package // absolute path → the Go programs among the executables
	diffID     string
	size       int64 // uncompressed tar bytes
	compressed int64
}

// scanLayers reads every layer, opts.Jobs at a time.
func scanLayers(ctx context.Context, layers []v1.Layer, opts Options) ([]scan, error) {
	scans := make([]scan, len(layers))
	seed := maphash.MakeSeed() // one seed: hashes compare across layers
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	for i, l := range layers {
		g.Go(func() error {
			sc, err := scanLayer(ctx, l, opts.Compression, seed)
			if err != nil {
				return fmt.Errorf("reading layer %d: %w", i, err)
			}
			scans[i] = sc
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return scans, nil
}

// scanLayer reads the tar of l once: its entries, its uncompressed size and,
// for a layer stored uncompressed, the size it compresses to with alg.
func scanLayer(ctx context.Context, l v1.Layer, alg layer.Compression, seed maphash.Seed) (scan, error) {
	var sc scan
	if d, err := l.DiffID(); err == nil {
		sc.diffID = d.String()
	}
	blobSize, err := l.Size()
	if err != nil {
		return sc, fmt.Errorf("reading size: %w", err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return sc, fmt.Errorf("opening: %w", err)
	}
	defer rc.Close()
	stored, br, err := layer.Detect(rc)
	if err != nil {
		return sc, err
	}
	dec, err := layer.Decompress(br)
	if err != nil {
		return sc, err
	}
	defer dec.Close()
	var src io.Reader = dec
	var zw io.WriteCloser
	zcount := &iox.CountWriter{}
	sc.compressed = blobSize
	if stored == string(layer.Uncompressed) {
		sc.compressed = 0 // not measured
		if alg != layer.Uncompressed {
			if zw, err = layer.Compress(zcount, alg, 0); err != nil {
				return sc, fmt.Errorf("measuring the compressed size: %w", err)
			}
			src = io.TeeReader(dec, zw)
		}
	}
	ucount := &iox.CountReader{R: src}
	tr := tar.NewReader(ucount)
	for {
		if err := ctx.Err(); err != nil {
			return sc, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sc, fmt.Errorf("reading tar: %w", err)
		}
		e, ok := entryOf(hdr)
		if !ok {
			continue
		}
		var h maphash.Hash
		h.SetSeed(seed)
		body := io.TeeReader(tr, &h)
		if err := sc.readPackageData(body, hdr, e); err != nil {
			return sc, err
		}
		if e.kind == kindFile && hdr.Size > 0 && (hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeGNUSparse) {
			if _, err := io.Copy(io.Discard, body); err != nil {
				return sc, fmt.Errorf("reading %s: %w", hdr.Name, err)
			}
			e.meta = meta{sum: h.Sum64() | 1, mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid}
		}
		sc.entries = append(sc.entries, e)
	}
	// The end-of-archive blocks and padding count in the layer's size.
	if _, err := io.Copy(io.Discard, ucount); err != nil {
		return sc, fmt.Errorf("reading tar: %w", err)
	}
	sc.size = ucount.N
	if zw != nil {
		if err := zw.Close(); err != nil {
			return sc, fmt.Errorf("measuring the compressed size: %w", err)
		}
		sc.compressed = zcount.N
	}
	return sc, nil
}

// readPackageData keeps the content of e when it is a package database, and
// the build info of e when it is a Go executable.
func (sc *scan) readPackageData(tr io.Reader, hdr *tar.Header, e entry) error {
	if e.kind != kindFile || (hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeGNUSparse) {
		return nil
	}
	abs := "/" + e.path
	if pkgdb.Wanted(abs, hdr.Size) {
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("reading %s: %w", abs, err)
		}
		if sc.dbs == nil {
			sc.dbs = map[string][]byte{}
		}
		sc.dbs[abs] = data
		return nil
	}
	if hdr.Mode&0o111 == 0 || hdr.Size < minGoBinary || hdr.Size > maxGoBinary {
		return nil
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(tr, head); err != nil {
		return fmt.Errorf("reading %s: %w", abs, err)
	}
	if !pkgdb.IsELF(head) {
		return nil
	}
	rest, err := io.ReadAll(tr)
	if err != nil {
		return fmt.Errorf("reading %s: %w", abs, err)
	}
	if pkg, ok := pkgdb.GoBinary(abs, append(head, rest...)); ok {
		if sc.gobins == nil {
			sc.gobins = map[string]pkgdb.Package{}
		}
		sc.gobins[abs] = pkg
	}
	return nil
}

// The sizes between which an executable is read to look for Go build
// info: the smallest Go program is over 1 MB.
const (
	minGoBinary = 1 << 20
	maxGoBinary = 512 << 20
)

// entryOf turns a tar header into an entry; ok is false for the root and
// for entries with no effect on paths (PAX global headers).
func entryOf(hdr *tar.Header) (entry, bool) {
	p := cleanPath(hdr.Name)
	if p == "" {
		return entry{}, false
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == ".wh..wh..opq":
		return entry{path: dir, kind: kindOpaque}, true
	case strings.HasPrefix(base, ".wh."):
		return entry{path: path.Join(dir, strings.TrimPrefix(base, ".wh.")), kind: kindWhiteout}, true
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return entry{path: p, kind: kindDir}, true
	case tar.TypeReg, tar.TypeGNUSparse:
		return entry{path: p, kind: kindFile, size: hdr.Size}, true
	case tar.TypeXGlobalHeader:
		return entry{}, false
	case tar.TypeSymlink:
		return entry{path: p, kind: kindFile, link: hdr.Linkname}, true
	default: // hardlinks, devices, fifos
		return entry{path: p, kind: kindFile}, true
	}
}

// cleanPath returns name relative to the root, slash-separated, "" for the
// root itself.
func cleanPath(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}
