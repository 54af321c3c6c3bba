package registry

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push writes img to ref and returns the digest of the manifest it pushed.
// Layers stored as plain tars (and with opts.ForceCompression, layers
// compressed another way) are compressed (opts.Compression) into files in
// opts.TempDir, or by opts.Compressor, first, and the manifest is rewritten to name the compressed
// blobs; the config, and so the image ID and diff_ids, stay as they are.
// Blobs the registry already has are not uploaded again. Every blob is
// uploaded before the manifest, so a push that fails never leaves ref
// pointing at a partial image.
func Push(ctx context.Context, img v1.Image, ref string, opts Options) (v1.Hash, error) {
	r, err := opts.parseRef(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	c := opts.Compressor
	if c == nil {
		dir, err := os.MkdirTemp(opts.TempDir, "strata-push-")
		if err != nil {
			return v1.Hash{}, fmt.Errorf("pushing to %s: %w", r, err)
		}
		defer os.RemoveAll(dir)
		c = NewCompressor(dir)
	}
	out, err := c.Image(ctx, img, opts.compressOptions())
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing to %s: %w", r, err)
	}
	ro, err := opts.remoteOptions(ctx)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing to %s: %w", r, err)
	}
	if opts.LayerExists != nil {
		if err := reportExisting(r, out, ro, opts.LayerExists); err != nil {
			return v1.Hash{}, explain("pushing to", r, err)
		}
	}
	if opts.Progress != nil {
		ro = append(ro, remote.WithProgress(opts.Progress))
	}
	if err := remote.Write(r, out, ro...); err != nil {
		return v1.Hash{}, explain("pushing to", r, err)
	}
	dg, err := out.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing to %s: %w", r, err)
	}
	return dg, nil
}

// reportExisting calls exists with the index of each layer of img that the
// repository of r already has.
func reportExisting(r name.Reference, img v1.Image, ro []remote.Option, exists func(int)) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading layers: %w", err)
	}
	for i, l := range layers {
		dg, err := l.Digest()
		if err != nil {
			return fmt.Errorf("reading layer digest: %w", err)
		}
		rl, err := remote.Layer(r.Context().Digest(dg.String()), ro...)
		if err != nil {
			return err
		}
		ok, err := partial.Exists(rl)
		if err != nil {
			return err
		}
		if ok {
			exists(i)
		}
	}
	return nil
}

// PushLayer uploads l, compressed as opts asks, to the repository of ref
// (a blob only: no manifest names it yet), unless the registry has it. A
// build pushing its image calls it for each layer as soon as the layer is
// made; Push then finds the blobs there and sends the manifest.
func PushLayer(ctx context.Context, l v1.Layer, ref string, opts Options) error {
	r, err := opts.parseRef(ref)
	if err != nil {
		return err
	}
	if opts.Compressor == nil {
		return fmt.Errorf("pushing a layer to %s: no Compressor to share the compressed layer with the push", r)
	}
	mt, err := l.MediaType()
	if err != nil {
		return fmt.Errorf("pushing a layer to %s: %w", r, err)
	}
	co := opts.compressOptions()
	if co.needs(mt) {
		if l, err = opts.Compressor.Layer(ctx, l, co); err != nil {
			return fmt.Errorf("pushing a layer to %s: %w", r, err)
		}
	}
	ro, err := opts.remoteOptions(ctx)
	if err != nil {
		return fmt.Errorf("pushing a layer to %s: %w", r, err)
	}
	if err := remote.WriteLayer(r.Context(), l, ro...); err != nil {
		return explain("pushing a layer to", r, err)
	}
	return nil
}

func (o Options) compressOptions() CompressOptions {
	return CompressOptions{Compression: o.Compression, Level: o.CompressionLevel, Force: o.ForceCompression}
}
