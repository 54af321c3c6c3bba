package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/output"
	"github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/solver"
	"github.com/strata-build/strata/internal/store"
)

// outputSpecs parses -o (and --push) into the outputs of the build: the
// store alone when none is given, as docker build.
func (f *buildFlags) outputSpecs(stdout io.Writer) ([]output.Spec, error) {
	var specs []output.Spec
	for _, s := range f.outputs {
		sp, err := output.ParseSpec(s)
		if err != nil {
			return nil, fmt.Errorf("-o, --output: %w", err)
		}
		specs = append(specs, sp)
	}
	if f.push {
		specs = append(specs, output.Spec{Type: output.TypeImage, Push: true})
	}
	if len(specs) == 0 {
		return []output.Spec{{Type: output.TypeImage}}, nil
	}
	toStdout := 0
	for _, sp := range specs {
		if sp.Dest == output.Stdout {
			toStdout++
		}
		for _, n := range sp.Names {
			if _, err := store.Normalize(n); err != nil {
				return nil, fmt.Errorf("-o, --output: name=%s: %w", n, err)
			}
		}
		if sp.Push && len(sp.Names)+len(f.tags) == 0 {
			return nil, fmt.Errorf("-o, --output: type=%s pushes the image to its names: give -t NAME or name=NAME", sp.Type)
		}
	}
	switch {
	case toStdout > 1:
		return nil, fmt.Errorf("-o, --output: only one output can be written to stdout (dest=-)")
	case toStdout == 1 && f.quiet:
		return nil, fmt.Errorf("-q prints the image ID on stdout, where dest=- writes the output: give the output a file")
	case toStdout == 1 && isTerminal(stdout):
		return nil, fmt.Errorf("refusing to write a tar to a terminal: give dest=FILE or pipe the output")
	}
	return specs, nil
}

// storeNames are the names the store gives the image: the -t tags and the
// name= of every image output, none when no output is an image (-o
// type=local alone leaves an unnamed image in the store, as build cache).
func storeNames(tags []string, specs []output.Spec) []string {
	var names []string
	for _, sp := range specs {
		if sp.Type != output.TypeImage {
			continue
		}
		for _, n := range append(append([]string(nil), tags...), sp.Names...) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// buildPushing builds; when an output pushes, each layer is uploaded as
// soon as its step writes it (not for squashed images, whose layers are
// made at the end).
func (f *buildFlags) buildPushing(cmd *cobra.Command, st *store.Store, opts solver.Options, ro registry.Options) (*solver.Result, error) {
	var early *output.EarlyPush
	if !opts.Squash && !opts.SquashAll {
		early = output.NewEarlyPush(st, f.specs, f.tags, ro)
	}
	if early == nil {
		return solver.Build(cmd.Context(), st, opts)
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	go early.Run(ctx)
	opts.Layers = early
	res, err := solver.Build(ctx, st, opts)
	if err != nil {
		cancel()
	}
	for _, e := range early.Close() {
		if err == nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: uploading a layer while building: %v (the push after the build sends what is missing)\n", e)
		}
	}
	return res, err
}

// export writes the built image to every output and then --metadata-file.
func (f *buildFlags) export(ctx context.Context, st *store.Store, stdout io.Writer, res *solver.Result, ro registry.Options) error {
	ex := &output.Exporter{Store: st, Stdout: stdout, TempDir: ro.TempDir, Registry: ro}
	var last output.Written
	for _, sp := range f.specs {
		w, err := ex.Export(ctx, res.ImageID, f.tags, sp)
		if err != nil {
			return err
		}
		if w.Manifest != nil || last.Manifest == nil {
			last = w
		}
	}
	if f.metadataFile == "" {
		return nil
	}
	return writeMetadata(f.metadataFile, last)
}

// writeMetadata writes buildx's --metadata-file keys for what an output
// wrote: the manifest (digest and descriptor) and config digests of an
// image output, and the names it was given.
func writeMetadata(path string, w output.Written) error {
	m := map[string]any{"containerimage.config.digest": w.ConfigID.String()}
	if w.Manifest != nil {
		m["containerimage.digest"] = w.Manifest.Digest.String()
		m["containerimage.descriptor"] = struct {
			MediaType string  `json:"mediaType"`
			Digest    v1.Hash `json:"digest"`
			Size      int64   `json:"size"`
		}{string(w.Manifest.MediaType), w.Manifest.Digest, w.Manifest.Size}
	}
	if len(w.Names) > 0 {
		full := make([]string, len(w.Names))
		for i, n := range w.Names {
			full[i], _ = store.Normalize(n)
		}
		m["image.name"] = strings.Join(full, ",")
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing --metadata-file: %w", err)
	}
	return nil
}

// reportOutputs prints a line for each output written other than the
// store, which the naming lines already show.
func (f *buildFlags) reportOutputs(w io.Writer) {
	for _, sp := range f.specs {
		switch {
		case sp.Type == output.TypeImage && !sp.Push:
		case sp.Push:
			names := append(append([]string(nil), f.tags...), sp.Names...)
			fmt.Fprintf(w, "pushing to %s done\n", strings.Join(names, ", "))
		case sp.Dest == output.Stdout:
			fmt.Fprintf(w, "writing type=%s to stdout done\n", sp.Type)
		default:
			fmt.Fprintf(w, "writing type=%s to %s done\n", sp.Type, sp.Dest)
		}
	}
}
