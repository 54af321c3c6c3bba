package output

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"regexp"
	"runtime"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/layer"
)

// maxJSON bounds the size of manifest.json, index.json, manifests and
// configs read into memory.
const maxJSON = 64 << 20

// ReadArchive reads the images of the archive at path: a `docker save`
// archive of either generation (legacy: <id>/layer.tar, <id>.json and
// manifest.json; Docker 25+: an OCI layout with manifest.json), or a tar of
// an OCI image layout (names from the io.containerd.image.name annotation, or
// org.opencontainers.image.ref.name when it holds a full name). A path that is
// not a regular file (a pipe) is copied to a temporary file first.
//
// Manifests and configs are read and checked now; layers are read from the
// archive when used and checked against their digests as they are read, so a
// tampered archive gives an error on read. The archive file stays open while
// the images are in use.
func ReadArchive(ctx context.Context, path string) ([]NamedImage, error) {
	f, err := openArchive(path)
	if err != nil {
		return nil, fmt.Errorf("reading archive %s: %w", path, err)
	}
	imgs, err := readArchive(ctx, f)
	if err == nil {
		err = checkArchiveLayers(ctx, imgs)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading archive %s: %w", path, err)
	}
	return imgs, nil
}

// checkArchiveLayers checks every layer of the images once, as layer.Checker does,
// so that an archive with a layer that could never be extracted safely is
// refused before anything of it is stored. A plain tar layer is read
// header by header, seeking over the file contents; a compressed one is
// decompressed to its end.
func checkArchiveLayers(ctx context.Context, imgs []NamedImage) error {
	seen := map[v1.Hash]bool{}
	for _, ni := range imgs {
		li, ok := ni.Image.(*layeredImage)
		if !ok {
			return fmt.Errorf("checking layers: unexpected image type %T", ni.Image)
		}
		m, err := li.Manifest()
		if err != nil {
			return err
		}
		for _, d := range m.Layers {
			if seen[d.Digest] {
				continue
			}
			seen[d.Digest] = true
			if err := ctx.Err(); err != nil {
				return err
			}
			l, ok := li.core.layers[d.Digest]
			if !ok {
				return fmt.Errorf("no layer %s in the archive", d.Digest)
			}
			if err := l.check(); err != nil {
				return fmt.Errorf("layer %q cannot be loaded, nothing was stored: %w", l.name, err)
			}
		}
	}
	return nil
}

// check reads the layer's tar through a layer.Checker.
func (l *archiveLayer) check() error {
	var r io.Reader = l.ix.section(l.e) // seekable: contents are skipped
	switch l.compression {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	return layer.CheckTar(r, layer.CheckOptions{})
}

// openArchive opens path, spooling it into an unlinked temporary file when it
// cannot be read at random.
func openArchive(p string) (*os.File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Mode().IsRegular() {
		return f, nil
	}
	defer f.Close()
	t, err := os.CreateTemp("", "strata-load-*")
	if err != nil {
		return nil, err
	}
	os.Remove(t.Name())
	if _, err := io.Copy(t, f); err != nil {
		t.Close()
		return nil, fmt.Errorf("copying to a temporary file: %w", err)
	}
	return t, nil
}

// entry is a regular file of the archive: its bytes are at off, size long.
type entry struct {
	off, size int64
}

// tarIndex is the table of contents of an archive.
type tarIndex struct {
	f     *os.File
	files map[string]entry
	links map[string]string // symlinks and hardlinks: name → target name
}

// cleanName checks and cleans an entry name: relative, no "..".
func cleanName(n string) (string, error) {
	if n == "" || strings.HasPrefix(n, "/") {
		return "", fmt.Errorf("entry %q: absolute or empty path", n)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("entry %q: path escapes the archive", n)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// indexTar reads every header of the tar in f.
func indexTar(ctx context.Context, f *os.File) (*tarIndex, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	ix := &tarIndex{f: f, files: map[string]entry{}, links: map[string]string{}}
	tr := tar.NewReader(f)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		n, err := cleanName(hdr.Name)
		if err != nil {
			return nil, err
		}
		if n == "" {
			continue
		}
		if _, dup := ix.files[n]; dup {
			return nil, fmt.Errorf("entry %q: appears twice", hdr.Name)
		}
		if _, dup := ix.links[n]; dup {
			return nil, fmt.Errorf("entry %q: appears twice", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			if hdr.Size < 0 || off+hdr.Size > fi.Size() {
				return nil, fmt.Errorf("entry %q: %d bytes, past the end of the archive", hdr.Name, hdr.Size)
			}
			ix.files[n] = entry{off: off, size: hdr.Size}
		case tar.TypeSymlink:
			if strings.HasPrefix(hdr.Linkname, "/") {
				return nil, fmt.Errorf("entry %q: symlink to absolute path %q", hdr.Name, hdr.Linkname)
			}
			t := path.Join(path.Dir(n), hdr.Linkname)
			if t == ".." || strings.HasPrefix(t, "../") {
				return nil, fmt.Errorf("entry %q: symlink %q escapes the archive", hdr.Name, hdr.Linkname)
			}
			ix.links[n] = t
		case tar.TypeLink:
			t, err := cleanName(hdr.Linkname)
			if err != nil {
				return nil, fmt.Errorf("entry %q: hardlink: %w", hdr.Name, err)
			}
			ix.links[n] = t
		case tar.TypeDir, tar.TypeXGlobalHeader:
		default:
			return nil, fmt.Errorf("entry %q: unsupported type %q", hdr.Name, hdr.Typeflag)
		}
	}
	return ix, nil
}

// lookup finds the file n names, following links inside the archive.
func (ix *tarIndex) lookup(n string) (entry, bool) {
	n, err := cleanName(n)
	if err != nil {
		return entry{}, false
	}
	for range 16 {
		if e, ok := ix.files[n]; ok {
			return e, true
		}
		t, ok := ix.links[n]
		if !ok {
			return entry{}, false
		}
		n = t
	}
	return entry{}, false
}

// section returns the bytes of e.
func (ix *tarIndex) section(e entry) *io.SectionReader {
	return io.NewSectionReader(ix.f, e.off, e.size)
}

// readFile reads the whole of file n (up to maxJSON bytes).
func (ix *tarIndex) readFile(n, what string) ([]byte, error) {
	e, ok := ix.lookup(n)
	if !ok {
		return nil, fmt.Errorf("%s names %q, which is not in the archive", what, n)
	}
	if e.size > maxJSON {
		return nil, fmt.Errorf("%q: %d bytes, too large", n, e.size)
	}
	b := make([]byte, e.size)
	if _, err := ix.section(e).ReadAt(b, 0); err != nil && !(err == io.EOF && e.size == 0) {
		return nil, fmt.Errorf("reading %q: %w", n, err)
	}
	return b, nil
}

// readBlob reads file n whole and checks it against want.
func (ix *tarIndex) readBlob(n string, want v1.Hash, what string) ([]byte, error) {
	b, err := ix.readFile(n, what)
	if err != nil {
		return nil, err
	}
	if got := sha256Hash(b); want.Algorithm == "sha256" && got != want {
		return nil, fmt.Errorf("%q has digest %s, want %s", n, got, want)
	}
	return b, nil
}

func sha256Hash(b []byte) v1.Hash {
	h := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h[:])}
}

func readArchive(ctx context.Context, f *os.File) ([]NamedImage, error) {
	ix, err := indexTar(ctx, f)
	if err != nil {
		return nil, err
	}
	if _, ok := ix.lookup("manifest.json"); ok {
		return readDocker(ix)
	}
	if _, ok := ix.lookup("index.json"); ok {
		return readOCI(ix)
	}
	return nil, errors.New("neither a docker archive nor an OCI layout: no manifest.json or index.json")
}

var (
	blobPath = regexp.MustCompile(`^blobs/sha256/([0-9a-f]{64})$`)
	jsonPath = regexp.MustCompile(`^(?:sha256:)?([0-9a-f]{64})(?:\.json)?$`)
)

// digestInName returns the digest a path like blobs/sha256/<hex> or
// <hex>.json carries, if any.
func digestInName(n string, re *regexp.Regexp) (v1.Hash, bool) {
	m := re.FindStringSubmatch(n)
	if m == nil {
		return v1.Hash{}, false
	}
	return v1.Hash{Algorithm: "sha256", Hex: m[1]}, true
}

// readDocker reads the images listed in manifest.json.
func readDocker(ix *tarIndex) ([]NamedImage, error) {
	raw, err := ix.readFile("manifest.json", "the archive")
	if err != nil {
		return nil, err
	}
	var dms []dockerManifest
	if err := json.Unmarshal(raw, &dms); err != nil {
		return nil, fmt.Errorf("parsing manifest.json: %w", err)
	}
	var out []NamedImage
	for i, dm := range dms {
		img, err := dockerImage(ix, dm)
		if err != nil {
			return nil, fmt.Errorf("manifest.json entry %d: %w", i, err)
		}
		out = append(out, NamedImage{Image: img, Names: dm.RepoTags})
	}
	return out, nil
}

func dockerImage(ix *tarIndex, dm dockerManifest) (v1.Image, error) {
	cfg, err := ix.readFile(dm.Config, "manifest.json")
	if err != nil {
		return nil, err
	}
	cfgDigest := sha256Hash(cfg)
	for _, re := range []*regexp.Regexp{blobPath, jsonPath} {
		if want, ok := digestInName(dm.Config, re); ok && want != cfgDigest {
			return nil, fmt.Errorf("config %q has digest %s", dm.Config, cfgDigest)
		}
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfg))
	if err != nil {
		return nil, fmt.Errorf("parsing config %q: %w", dm.Config, err)
	}
	if len(cf.RootFS.DiffIDs) != len(dm.Layers) {
		return nil, fmt.Errorf("%d layers but %d diff_ids in config %q", len(dm.Layers), len(cf.RootFS.DiffIDs), dm.Config)
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(cfg)), Digest: cfgDigest},
		Layers:        []v1.Descriptor{},
	}
	img := &archiveImage{ix: ix, config: cfg, mediaType: types.OCIManifestSchema1, layers: map[v1.Hash]*archiveLayer{}}
	for i, lp := range dm.Layers {
		e, ok := ix.lookup(lp)
		if !ok {
			return nil, fmt.Errorf("manifest.json names %q, which is not in the archive", lp)
		}
		diffID := cf.RootFS.DiffIDs[i]
		l := &archiveLayer{ix: ix, e: e, name: lp, diffID: diffID, size: e.size}
		named, hasName := digestInName(lp, blobPath)
		switch c := sniff(ix.section(e)); c {
		case "gzip", "zstd":
			l.mediaType, l.compression = types.OCILayer, c
			if c == "zstd" {
				l.mediaType = types.OCILayerZStd
			}
			if hasName {
				l.digest = named
			} else if l.digest, err = hashSection(ix.section(e)); err != nil {
				return nil, fmt.Errorf("reading layer %q: %w", lp, err)
			}
		default:
			l.mediaType, l.digest = types.OCIUncompressedLayer, diffID
			if hasName && named != diffID {
				return nil, fmt.Errorf("layer %q is named by a digest other than its diff_id %s", lp, diffID)
			}
		}
		img.layers[l.digest] = l
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mediaType, Size: l.size, Digest: l.digest})
	}
	if img.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return img.image()
}

// sniff tells gzip and zstd streams from anything else.
func sniff(r io.ReaderAt) string {
	b := make([]byte, 4)
	n, _ := r.ReadAt(b, 0)
	switch {
	case n >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return "gzip"
	case n >= 4 && bytes.Equal(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

func hashSection(r io.Reader) (v1.Hash, error) {
	h, _, err := v1.SHA256(r)
	return h, err
}

// ociIndexName returns the name an index.json entry gives its image, if any.
func ociIndexName(d v1.Descriptor) string {
	if n := d.Annotations[annotationImageName]; n != "" {
		return n
	}
	if n := d.Annotations[annotationRefName]; strings.ContainsAny(n, "/:@") {
		// A full reference (ggcr, skopeo); a bare tag names nothing alone.
		return n
	}
	return ""
}

// readOCI reads the images of an OCI layout's index.json.
func readOCI(ix *tarIndex) ([]NamedImage, error) {
	raw, err := ix.readFile("index.json", "the archive")
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("parsing index.json: %w", err)
	}
	var out []NamedImage
	pos := map[v1.Hash]int{}
	for _, d := range idx.Manifests {
		if d.MediaType.IsIndex() {
			if d, err = pickPlatform(ix, d); err != nil {
				return nil, err
			}
		}
		n := ociIndexName(d)
		if i, ok := pos[d.Digest]; ok {
			if n != "" {
				out[i].Names = append(out[i].Names, n)
			}
			continue
		}
		img, err := ociImage(ix, d)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", d.Digest, err)
		}
		pos[d.Digest] = len(out)
		ni := NamedImage{Image: img}
		if n != "" {
			ni.Names = []string{n}
		}
		out = append(out, ni)
	}
	return out, nil
}

// pickPlatform returns the descriptor of the host's image in a nested index,
// keeping the outer descriptor's annotations.
func pickPlatform(ix *tarIndex, d v1.Descriptor) (v1.Descriptor, error) {
	raw, err := ix.readBlob(blobName(d.Digest), d.Digest, "index.json")
	if err != nil {
		return d, err
	}
	var inner v1.IndexManifest
	if err := json.Unmarshal(raw, &inner); err != nil {
		return d, fmt.Errorf("parsing index %s: %w", d.Digest, err)
	}
	want := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	for _, m := range inner.Manifests {
		if !m.MediaType.IsImage() {
			continue
		}
		if len(inner.Manifests) == 1 || (m.Platform != nil && m.Platform.OS == want.OS && m.Platform.Architecture == want.Architecture) {
			m.Annotations = d.Annotations
			return m, nil
		}
	}
	return d, fmt.Errorf("index %s has no image for %s/%s", d.Digest, want.OS, want.Architecture)
}

func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// ociImage reads the manifest and config of the image d describes.
func ociImage(ix *tarIndex, d v1.Descriptor) (v1.Image, error) {
	if !d.MediaType.IsImage() {
		return nil, fmt.Errorf("unsupported media type %s", d.MediaType)
	}
	raw, err := ix.readBlob(blobName(d.Digest), d.Digest, "index.json")
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	cfg, err := ix.readBlob(blobName(m.Config.Digest), m.Config.Digest, "the manifest")
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfg))
	if err != nil {
		return nil, fmt.Errorf("parsing config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%d layers but %d diff_ids in the config", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	img := &archiveImage{ix: ix, config: cfg, manifest: raw, mediaType: d.MediaType, layers: map[v1.Hash]*archiveLayer{}}
	for i, ld := range m.Layers {
		n := blobName(ld.Digest)
		e, ok := ix.lookup(n)
		if !ok {
			return nil, fmt.Errorf("the manifest names %q, which is not in the archive", n)
		}
		if e.size != ld.Size {
			return nil, fmt.Errorf("%q: %d bytes, the manifest says %d", n, e.size, ld.Size)
		}
		l := &archiveLayer{ix: ix, e: e, name: n, digest: ld.Digest, diffID: cf.RootFS.DiffIDs[i], size: e.size, mediaType: ld.MediaType}
		if !uncompressedTypes[ld.MediaType] {
			l.compression = sniff(ix.section(e))
		}
		img.layers[ld.Digest] = l
	}
	return img.image()
}

// archiveImage is an image whose layers are files in an archive.
type archiveImage struct {
	ix        *tarIndex
	config    []byte
	manifest  []byte
	mediaType types.MediaType
	layers    map[v1.Hash]*archiveLayer
}

var _ partial.CompressedImageCore = (*archiveImage)(nil)

// RawConfigFile implements partial.CompressedImageCore.
func (i *archiveImage) RawConfigFile() ([]byte, error) { return i.config, nil }

// MediaType implements partial.CompressedImageCore.
func (i *archiveImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }

// RawManifest implements partial.CompressedImageCore.
func (i *archiveImage) RawManifest() ([]byte, error) { return i.manifest, nil }

// LayerByDigest implements partial.CompressedImageCore.
func (i *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("no layer %s in the archive", h)
}

// image completes i into a v1.Image whose layers are i's own, so that their
// uncompressed streams are checked against the diff_ids too.
func (i *archiveImage) image() (v1.Image, error) {
	img, err := partial.CompressedToImage(i)
	if err != nil {
		return nil, err
	}
	return &layeredImage{Image: img, core: i}, nil
}

// layeredImage hands out archiveLayers as they are (partial's extender would
// wrap them and decompress without checking the diff_id).
type layeredImage struct {
	v1.Image
	core *archiveImage
}

// Layers implements v1.Image.
func (i *layeredImage) Layers() ([]v1.Layer, error) {
	m, err := i.Manifest()
	if err != nil {
		return nil, err
	}
	ls := make([]v1.Layer, 0, len(m.Layers))
	for _, d := range m.Layers {
		l, err := i.LayerByDigest(d.Digest)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// LayerByDigest implements v1.Image.
func (i *layeredImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if l, ok := i.core.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("no layer %s in the archive", h)
}

// LayerByDiffID implements v1.Image.
func (i *layeredImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range i.core.layers {
		if l.diffID == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer with diff_id %s in the archive", h)
}

var _ v1.Layer = (*archiveLayer)(nil)

// archiveLayer is a layer blob in an archive; reading it checks its digest.
type archiveLayer struct {
	ix          *tarIndex
	e           entry
	name        string
	digest      v1.Hash
	diffID      v1.Hash
	size        int64
	mediaType   types.MediaType
	compression string // "gzip", "zstd" or "" (plain tar)
}

var _ partial.CompressedLayer = (*archiveLayer)(nil)

// Digest implements partial.CompressedLayer.
func (l *archiveLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID implements partial.WithDiffID.
func (l *archiveLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size implements partial.CompressedLayer.
func (l *archiveLayer) Size() (int64, error) { return l.size, nil }

// MediaType implements partial.CompressedLayer.
func (l *archiveLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// Compressed implements partial.CompressedLayer: the blob as it is in the
// archive, checked against its digest at the end.
func (l *archiveLayer) Compressed() (io.ReadCloser, error) {
	return newVerifier(l.ix.section(l.e), l.digest, l.size, l.name), nil
}

// Uncompressed returns the layer's tar, checked against its diff_id at the
// end (and, when compressed, the blob against its digest).
func (l *archiveLayer) Uncompressed() (io.ReadCloser, error) {
	rc, _ := l.Compressed()
	switch l.compression {
	case "gzip":
		zr, err := gzip.NewReader(rc)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", l.name, err)
		}
		return newVerifier(zr, l.diffID, -1, l.name+" (uncompressed)"), nil
	case "zstd":
		zr, err := zstd.NewReader(rc)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", l.name, err)
		}
		return newVerifier(zr.IOReadCloser(), l.diffID, -1, l.name+" (uncompressed)"), nil
	}
	if l.digest != l.diffID {
		return nil, fmt.Errorf("layer %q: uncompressed but its digest %s is not its diff_id %s", l.name, l.digest, l.diffID)
	}
	return rc, nil
}

// verifier hashes what is read through it and fails at the end when the
// digest or size is wrong.
type verifier struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	want v1.Hash
	size int64 // -1: unknown
	name string
}

func newVerifier(r io.Reader, want v1.Hash, size int64, name string) *verifier {
	return &verifier{r: r, h: sha256.New(), want: want, size: size, name: name}
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if v.size >= 0 && v.n != v.size {
			return n, fmt.Errorf("%q: %d bytes, want %d", v.name, v.n, v.size)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			return n, fmt.Errorf("%q: content has digest sha256:%s, want %s (the archive is corrupt or was tampered with)", v.name, got, v.want)
		}
	}
	return n, err
}

func (v *verifier) Close() error {
	if c, ok := v.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
