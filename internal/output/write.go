package output

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/iox"
	"github.com/strata-build/strata/internal/store"
)

// Annotation keys in index.json, as Docker 25 and containerd write them.
const (
	annotationImageName = "io.containerd.image.name"          // docker.io/library/busybox:latest
	annotationRefName   = "org.opencontainers.image.ref.name" // latest
)

// epoch is the modification time of every archive entry.
var epoch = time.Unix(0, 0).UTC()

// blob is a file of an archive: its content comes from open, and must hash
// to digest with size bytes.
type blob struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

func bytesBlob(b []byte) blob {
	h := sha256.Sum256(b)
	return blob{
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h[:])},
		size:   int64(len(b)),
		open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
	}
}

func (b blob) path() string { return "blobs/" + b.digest.Algorithm + "/" + b.digest.Hex }

// archive collects the files of a tar and writes them sorted by name.
type archive struct {
	blobs map[v1.Hash]blob
	files map[string][]byte
}

func newArchive() *archive {
	return &archive{blobs: map[v1.Hash]blob{}, files: map[string][]byte{}}
}

func (a *archive) addBlob(b blob) { a.blobs[b.digest] = b }

// write writes the archive to w: directories, blobs and files in name order,
// every entry owned by 0:0 with mtime 0, so equal content gives equal bytes.
func (a *archive) write(ctx context.Context, w io.Writer) error {
	type entry struct {
		name string
		blob *blob
		data []byte
	}
	var es []entry
	algs := map[string]bool{}
	for _, b := range a.blobs {
		es = append(es, entry{name: b.path(), blob: &b})
		algs[b.digest.Algorithm] = true
	}
	for n, d := range a.files {
		es = append(es, entry{name: n, data: d})
	}
	if len(a.blobs) > 0 {
		es = append(es, entry{name: "blobs/"})
		for alg := range algs {
			es = append(es, entry{name: "blobs/" + alg + "/"})
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })

	tw := tar.NewWriter(w)
	for _, e := range es {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr := &tar.Header{Name: e.name, Mode: 0o644, ModTime: epoch, Typeflag: tar.TypeReg}
		switch {
		case e.name[len(e.name)-1] == '/':
			hdr.Mode, hdr.Typeflag = 0o755, tar.TypeDir
		case e.blob != nil:
			hdr.Size = e.blob.size
		default:
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %s: %w", e.name, err)
		}
		switch {
		case e.blob != nil:
			if err := copyBlob(ctx, tw, *e.blob); err != nil {
				return fmt.Errorf("writing %s: %w", e.name, err)
			}
		case e.data != nil:
			if _, err := tw.Write(e.data); err != nil {
				return fmt.Errorf("writing %s: %w", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing archive end: %w", err)
	}
	return nil
}

// copyBlob copies b to w and checks its digest and size.
func copyBlob(ctx context.Context, w io.Writer, b blob) error {
	rc, err := b.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(iox.ContextReader{Ctx: ctx, R: rc}, b.size+1))
	if err != nil {
		return err
	}
	if n != b.size {
		return fmt.Errorf("content is %d bytes, want %d", n, b.size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != b.digest.Hex {
		return fmt.Errorf("content has digest sha256:%s, want %s", got, b.digest)
	}
	return nil
}

// indexFor returns index.json's manifest descriptors for an image manifest
// desc known by names: one per name, annotated as Docker 25 does, or one
// without annotations when there is no name.
func indexFor(desc v1.Descriptor, names []imageName) []v1.Descriptor {
	if len(names) == 0 {
		return []v1.Descriptor{desc}
	}
	var ds []v1.Descriptor
	for _, n := range names {
		d := desc
		d.Annotations = map[string]string{annotationImageName: n.full, annotationRefName: n.tag}
		ds = append(ds, d)
	}
	return ds
}

func ociIndex(ds []v1.Descriptor) ([]byte, error) {
	if ds == nil {
		ds = []v1.Descriptor{}
	}
	return json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: ds})
}

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// parseNames parses every name of images, refusing a name given twice.
func parseNames(images []NamedImage) ([][]imageName, error) {
	seen := map[string]bool{}
	out := make([][]imageName, len(images))
	for i, ni := range images {
		if ni.Image == nil {
			return nil, fmt.Errorf("image %d is nil", i)
		}
		for _, s := range ni.Names {
			n, err := parseName(s)
			if err != nil {
				return nil, err
			}
			if seen[n.full] {
				return nil, fmt.Errorf("name %s is given to two images", n.familiar)
			}
			seen[n.full] = true
			out[i] = append(out[i], n)
		}
	}
	return out, nil
}

// WriteOCIArchive writes images to w as a tar of an OCI image layout: the
// blobs as stored (manifests keep their digests) and an index.json naming
// each image as Docker 25 and containerd do (io.containerd.image.name = the
// full name, org.opencontainers.image.ref.name = the tag).
func WriteOCIArchive(ctx context.Context, w io.Writer, images []NamedImage) error {
	a, err := ociArchive(images)
	if err != nil {
		return fmt.Errorf("writing OCI archive: %w", err)
	}
	if err := a.write(ctx, w); err != nil {
		return fmt.Errorf("writing OCI archive: %w", err)
	}
	return nil
}

// ociArchive collects the files of an OCI layout of images.
func ociArchive(images []NamedImage) (*archive, error) {
	names, err := parseNames(images)
	if err != nil {
		return nil, err
	}
	a := newArchive()
	var index []v1.Descriptor
	for i, ni := range images {
		desc, err := addStoredImage(a, ni.Image)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		index = append(index, indexFor(desc, names[i])...)
	}
	idx, err := ociIndex(index)
	if err != nil {
		return nil, err
	}
	a.files["index.json"] = idx
	a.files["oci-layout"] = []byte(ociLayoutFile)
	return a, nil
}

// addStoredImage adds img's blobs as they are and returns its descriptor.
func addStoredImage(a *archive, img v1.Image) (v1.Descriptor, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading manifest media type: %w", err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading manifest: %w", err)
	}
	cb := bytesBlob(cfg)
	if cb.digest != m.Config.Digest {
		return v1.Descriptor{}, fmt.Errorf("config has digest %s, the manifest says %s", cb.digest, m.Config.Digest)
	}
	a.addBlob(cb)
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading layers: %w", err)
	}
	for _, l := range layers {
		dg, err := l.Digest()
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("reading layer digest: %w", err)
		}
		size, err := l.Size()
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("reading layer %s size: %w", dg, err)
		}
		a.addBlob(blob{digest: dg, size: size, open: l.Compressed})
	}
	mb := bytesBlob(raw)
	a.addBlob(mb)
	return v1.Descriptor{MediaType: mt, Size: mb.size, Digest: mb.digest}, nil
}

// dockerManifest is one entry of a docker archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteDockerArchive writes images to w as a `docker save` archive that both
// Docker 20.10 and Docker 25+ load: an OCI layout whose layers are
// uncompressed tars named by their diff_ids, docker's manifest.json (Config
// and Layers are paths of blobs in the tar, RepoTags familiar names) and the
// legacy repositories file. Layers stored compressed are decompressed (into
// a temporary file when their uncompressed size is not known). The same
// images give the same bytes.
func WriteDockerArchive(ctx context.Context, w io.Writer, images []NamedImage) error {
	names, err := parseNames(images)
	if err != nil {
		return fmt.Errorf("writing docker archive: %w", err)
	}
	tmp, err := os.MkdirTemp("", "strata-save-")
	if err != nil {
		return fmt.Errorf("writing docker archive: %w", err)
	}
	defer os.RemoveAll(tmp)

	a := newArchive()
	var index []v1.Descriptor
	manifests := []dockerManifest{}
	repositories := map[string]map[string]string{}
	for i, ni := range images {
		desc, dm, err := addDockerImage(ctx, a, ni.Image, tmp)
		if err != nil {
			return fmt.Errorf("writing docker archive: image %d: %w", i, err)
		}
		index = append(index, indexFor(desc, names[i])...)
		for _, n := range names[i] {
			dm.RepoTags = append(dm.RepoTags, n.familiar)
			if len(dm.Layers) > 0 {
				if repositories[n.repo] == nil {
					repositories[n.repo] = map[string]string{}
				}
				repositories[n.repo][n.tag] = dm.Layers[len(dm.Layers)-1][len("blobs/sha256/"):]
			}
		}
		manifests = append(manifests, dm)
	}
	idx, err := ociIndex(index)
	if err != nil {
		return fmt.Errorf("writing docker archive: %w", err)
	}
	mj, err := json.Marshal(manifests)
	if err != nil {
		return fmt.Errorf("writing docker archive: %w", err)
	}
	rj, err := json.Marshal(repositories)
	if err != nil {
		return fmt.Errorf("writing docker archive: %w", err)
	}
	a.files["index.json"] = idx
	a.files["manifest.json"] = append(mj, '\n')
	a.files["oci-layout"] = []byte(ociLayoutFile)
	a.files["repositories"] = append(rj, '\n')
	if err := a.write(ctx, w); err != nil {
		return fmt.Errorf("writing docker archive: %w", err)
	}
	return nil
}

// uncompressedTypes are the media types of layers stored as plain tars.
var uncompressedTypes = map[types.MediaType]bool{
	types.OCIUncompressedLayer:    true,
	types.DockerUncompressedLayer: true,
}

// addDockerImage adds img's config and uncompressed layers to a, with an OCI
// manifest naming them, and returns the manifest's descriptor and its
// manifest.json entry.
func addDockerImage(ctx context.Context, a *archive, img v1.Image, tmp string) (v1.Descriptor, dockerManifest, error) {
	var dm dockerManifest
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, dm, fmt.Errorf("reading config: %w", err)
	}
	parts, err := store.ReadImageParts(img)
	if err != nil {
		return v1.Descriptor{}, dm, err
	}
	cf, layers := parts.Config, parts.Layers
	cb := bytesBlob(cfg)
	a.addBlob(cb)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: cb.size, Digest: cb.digest},
		Layers:        []v1.Descriptor{},
	}
	dm.Config = cb.path()
	dm.Layers = []string{}
	for i, l := range layers {
		diffID := cf.RootFS.DiffIDs[i]
		b, ok := a.blobs[diffID]
		if !ok {
			if b, err = uncompressedBlob(ctx, l, diffID, tmp); err != nil {
				return v1.Descriptor{}, dm, fmt.Errorf("layer %s: %w", diffID, err)
			}
			a.addBlob(b)
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Size: b.size, Digest: diffID})
		dm.Layers = append(dm.Layers, b.path())
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return v1.Descriptor{}, dm, err
	}
	mb := bytesBlob(raw)
	a.addBlob(mb)
	return v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: mb.size, Digest: mb.digest}, dm, nil
}

// uncompressedBlob returns l's uncompressed tar as a blob. A layer stored
// uncompressed, or one that knows its uncompressed size, is streamed when the
// archive is written; any other is decompressed into a file in tmp now.
func uncompressedBlob(ctx context.Context, l v1.Layer, diffID v1.Hash, tmp string) (blob, error) {
	mt, err := l.MediaType()
	if err != nil {
		return blob{}, fmt.Errorf("reading media type: %w", err)
	}
	if uncompressedTypes[mt] {
		size, err := l.Size()
		if err != nil {
			return blob{}, fmt.Errorf("reading size: %w", err)
		}
		return blob{digest: diffID, size: size, open: l.Uncompressed}, nil
	}
	if us, ok := l.(interface{ UncompressedSize() (int64, error) }); ok {
		if size, err := us.UncompressedSize(); err == nil {
			return blob{digest: diffID, size: size, open: l.Uncompressed}, nil
		}
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return blob{}, fmt.Errorf("decompressing: %w", err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(tmp, "layer-*")
	if err != nil {
		return blob{}, err
	}
	defer f.Close()
	n, err := io.Copy(f, iox.ContextReader{Ctx: ctx, R: rc})
	if err != nil {
		return blob{}, fmt.Errorf("decompressing: %w", err)
	}
	if err := f.Close(); err != nil {
		return blob{}, fmt.Errorf("decompressing: %w", err)
	}
	path := f.Name()
	// The digest is checked when the archive is written.
	return blob{digest: diffID, size: n, open: func() (io.ReadCloser, error) { return os.Open(path) }}, nil
}

// WriteOCIDir writes images as an OCI image layout into the directory dir
// (made if missing): the same files WriteOCIArchive puts in its tar.
func WriteOCIDir(ctx context.Context, dir string, images []NamedImage) error {
	a, err := ociArchive(images)
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if err := a.writeDir(ctx, dir); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	return nil
}

// writeDir writes the archive's files under dir. Blobs already there with
// the right size are kept (a layout written again gains only new blobs);
// index.json is written last, so a reader never sees it name a missing blob.
func (a *archive) writeDir(ctx context.Context, dir string) error {
	for _, b := range a.blobs {
		p := filepath.Join(dir, filepath.FromSlash(b.path()))
		if fi, err := os.Stat(p); err == nil && fi.Size() == b.size {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := writeFileAtomic(p, func(w io.Writer) error { return copyBlob(ctx, w, b) }); err != nil {
			return fmt.Errorf("writing %s: %w", b.path(), err)
		}
	}
	var names []string
	for n := range a.files {
		if n != "index.json" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range append(names, "index.json") {
		data := a.files[n]
		if err := writeFileAtomic(filepath.Join(dir, n), func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
			return fmt.Errorf("writing %s: %w", n, err)
		}
	}
	return nil
}

// writeFileAtomic writes path through a temporary file renamed into place.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
