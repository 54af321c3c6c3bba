package output

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/rootfs"
	"github.com/strata-build/strata/internal/store"
)

// Exporter writes a built image, which is in Store, to the outputs a build
// asks for (`strata build -o`).
type Exporter struct {
	Store *store.Store
	// Stdout receives the outputs whose Dest is "-".
	Stdout io.Writer
	// Registry are the options of pushes (insecure registries, the
	// Compressor shared with early layer uploads); its Compression fields
	// are set from each Spec.
	Registry registry.Options
	// TempDir holds compressed layers of archives (empty: os.TempDir()).
	TempDir string
}

// Written is what one output wrote, for --metadata-file: the manifest of
// the image as that output holds it (compression may change it from the
// store's), its config digest and its names. Local and tar outputs write
// files, not an image: Manifest is nil.
type Written struct {
	Type     Type
	Manifest *v1.Descriptor
	ConfigID v1.Hash
	Names    []string
}

// Export writes the image id (in e.Store) to the output sp. tags are the
// build's -t names, given to the image alongside sp.Names; the store
// already holds the image under the names of an image output.
func (e *Exporter) Export(ctx context.Context, id v1.Hash, tags []string, sp Spec) (Written, error) {
	if e.Registry.Compressor == nil {
		dir, err := os.MkdirTemp(e.TempDir, "strata-output-")
		if err != nil {
			return Written{}, err
		}
		defer os.RemoveAll(dir)
		c := *e
		c.Registry.Compressor = registry.NewCompressor(dir)
		e = &c
	}
	names := append(append([]string(nil), tags...), sp.Names...)
	w := Written{Type: sp.Type, ConfigID: id, Names: names}
	img, _, err := e.Store.Image(id.String())
	if err != nil {
		return w, err
	}
	switch sp.Type {
	case TypeLocal:
		return w, e.local(ctx, id, sp.Dest)
	case TypeTar:
		return w, e.toDest(sp.Dest, func(out io.Writer) error { return rootfs.Export(ctx, e.Store, id.String(), out) })
	case TypeImage, TypeRegistry:
		if sp.Push && len(names) == 0 {
			return w, fmt.Errorf("type=%s pushes the image to its names: give -t NAME or name=NAME", sp.Type)
		}
		out := img
		for i := 0; sp.Push && i < len(names); i++ {
			if out, err = e.push(ctx, img, names[i], sp); err != nil {
				return w, err
			}
		}
		return w.image(out)
	case TypeDocker:
		return w.image(img, e.toDest(sp.Dest, func(out io.Writer) error {
			return WriteDockerArchive(ctx, out, []NamedImage{{Image: img, Names: names}})
		}))
	case TypeOCI:
		out, err := e.oci(ctx, img, names, sp)
		return w.image(out, err)
	}
	return w, fmt.Errorf("unknown type %q", sp.Type)
}

// image records the manifest and config of the image an output wrote,
// unless err (the output's) is set.
func (w Written) image(img v1.Image, errs ...error) (Written, error) {
	for _, err := range errs {
		if err != nil {
			return w, err
		}
	}
	var err error
	if w.Manifest, err = descriptorOf(img); err != nil {
		return w, err
	}
	w.ConfigID, err = configOf(img)
	return w, err
}

// push pushes img to name, compressed as sp asks, and returns the image
// pushed.
func (e *Exporter) push(ctx context.Context, img v1.Image, name string, sp Spec) (v1.Image, error) {
	ro := e.Registry
	ro.Compression, ro.CompressionLevel, ro.ForceCompression = sp.Compression, sp.CompressionLevel, sp.ForceCompression
	if ro.Compression == "" {
		ro.Compression = layer.Gzip
	}
	ref, err := store.Normalize(name)
	if err != nil {
		return nil, fmt.Errorf("name %q: %w", name, err)
	}
	dg, err := registry.Push(ctx, img, ref, ro)
	if err != nil {
		return nil, err
	}
	pushed, err := e.compressed(ctx, img, sp, ro.Compressor)
	if err != nil {
		return nil, err
	}
	want, err := pushed.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest digest: %w", err)
	}
	if want != dg {
		return nil, fmt.Errorf("the registry has manifest %s, expected %s", dg, want)
	}
	return pushed, nil
}

// compressed returns img with its layers compressed as sp asks (the
// type's default compression when sp names none).
func (e *Exporter) compressed(ctx context.Context, img v1.Image, sp Spec, c *registry.Compressor) (v1.Image, error) {
	co := registry.CompressOptions{Compression: sp.Compression, Level: sp.CompressionLevel, Force: sp.ForceCompression}
	if co.Compression == "" {
		co.Compression = sp.defaultCompression()
	}
	out, err := c.Image(ctx, img, co)
	if err != nil {
		return nil, fmt.Errorf("compressing layers: %w", err)
	}
	return out, nil
}

// oci writes an OCI layout of img, as a tar or a directory, and returns the
// image written.
func (e *Exporter) oci(ctx context.Context, img v1.Image, names []string, sp Spec) (v1.Image, error) {
	out, err := e.compressed(ctx, img, sp, e.Registry.Compressor)
	if err != nil {
		return nil, err
	}
	images := []NamedImage{{Image: out, Names: names}}
	if sp.Tar {
		err = e.toDest(sp.Dest, func(w io.Writer) error { return WriteOCIArchive(ctx, w, images) })
	} else {
		err = WriteOCIDir(ctx, sp.Dest, images)
	}
	return out, err
}

// local writes the merged filesystem of image id into dir, made if missing.
func (e *Exporter) local(ctx context.Context, id v1.Hash, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("type=local: %w", err)
	}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := rootfs.Export(ctx, e.Store, id.String(), pw)
		pw.CloseWithError(err)
		errc <- err
	}()
	_, xerr := layer.Extract(ctx, pr, dir, layer.ExtractOptions{Format: layer.MergedFormat})
	pr.CloseWithError(io.ErrClosedPipe)
	if err := <-errc; err != nil && xerr == nil {
		xerr = err
	}
	if xerr != nil {
		return fmt.Errorf("type=local,dest=%s: %w", dir, xerr)
	}
	return nil
}

// toDest runs write on the file dest (written whole or not at all: a
// temporary file renamed into place), or on Stdout for "-".
func (e *Exporter) toDest(dest string, write func(io.Writer) error) error {
	if dest == Stdout {
		if e.Stdout == nil {
			return fmt.Errorf("dest=-: no standard output to write to")
		}
		return write(e.Stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(dest), ".strata-output-*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", dest, err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := os.Rename(f.Name(), dest); err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	return nil
}

// descriptorOf returns the descriptor of img's manifest.
func descriptorOf(img v1.Image) (*v1.Descriptor, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	dg, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	return &v1.Descriptor{MediaType: mt, Digest: dg, Size: int64(len(raw))}, nil
}

// configOf returns the config digest of img (an eStargz output's differs
// from the store's image ID).
func configOf(img v1.Image) (v1.Hash, error) {
	h, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading config digest: %w", err)
	}
	return h, nil
}
