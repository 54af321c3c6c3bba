// Package rootfs moves whole root filesystems in and out of the store:
// Import makes a one-layer image of a tarball (docker import), Export writes
// an image's merged filesystem as one tar (docker export).
package rootfs

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/store"
)

// ImportOptions describe an import.
type ImportOptions struct {
	// Names name the new image (none leaves it dangling).
	Names []string
	// Changes are Dockerfile instructions applied to the config (--change).
	Changes []string
	// Source is recorded in the history comment ("-" for stdin).
	Source string
	// Message is the history comment instead of "Imported from SOURCE"
	// (docker import -m).
	Message string
	// Created is the image's creation time (default now).
	Created time.Time
}

// Import reads a root filesystem tarball (plain, gzip, zstd, xz or bzip2)
// and stores it as a one-layer image.
func Import(ctx context.Context, st *store.Store, r io.Reader, opts ImportOptions) (store.Record, error) {
	cfg := &v1.ConfigFile{OS: runtime.GOOS, Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
	for _, ch := range opts.Changes {
		if err := applyChange(cfg, ch); err != nil {
			return store.Record{}, err
		}
	}
	dr, err := layer.Decompress(r)
	if err != nil {
		return store.Record{}, fmt.Errorf("reading the tarball: %w", err)
	}
	defer dr.Close()
	bw, err := st.BlobWriter()
	if err != nil {
		return store.Record{}, fmt.Errorf("starting the layer blob: %w", err)
	}
	defer bw.Close()
	bufw := bufio.NewWriterSize(bw, 1<<20)
	tr := tar.NewReader(io.TeeReader(dr, bufw))
	// checked as it streams into the blob, which is only committed
	// when every entry is valid: a refused tarball stores nothing
	chk := layer.NewChecker(layer.CheckOptions{RootFS: true})
	entries := 0
	for {
		if err := ctx.Err(); err != nil {
			return store.Record{}, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return store.Record{}, fmt.Errorf("the input is not a valid tar (after %d entries): %w", entries, err)
		}
		if err := chk.Check(hdr); err != nil {
			return store.Record{}, fmt.Errorf("refusing the tarball, nothing was stored: %w", err)
		}
		entries++
	}
	if _, err := io.Copy(io.Discard, io.TeeReader(dr, bufw)); err != nil { // the padding after the end marker
		return store.Record{}, fmt.Errorf("reading the tarball: %w", err)
	}
	if err := bufw.Flush(); err != nil {
		return store.Record{}, fmt.Errorf("writing the layer blob: %w", err)
	}
	h, size, err := bw.Commit(nil)
	if err != nil {
		return store.Record{}, fmt.Errorf("storing the layer: %w", err)
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	src := opts.Source
	if src == "" {
		src = "-"
	}
	cfg.Created = v1.Time{Time: created}
	cfg.RootFS.DiffIDs = []v1.Hash{h}
	comment := "Imported from " + src
	if opts.Message != "" {
		comment = opts.Message
	}
	cfg.History = []v1.History{{Created: v1.Time{Time: created}, Comment: comment}}
	img, err := st.NewImage(cfg, []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Size: size, Digest: h}}, store.NewImageOptions{})
	if err != nil {
		return store.Record{}, fmt.Errorf("making the image config: %w", err)
	}
	rec, err := st.WriteImage(ctx, img, opts.Names...)
	if err != nil {
		return store.Record{}, fmt.Errorf("writing the image: %w", err)
	}
	return rec, nil
}

// applyChange applies one --change instruction to cfg, as docker import does.
func applyChange(cfg *v1.ConfigFile, change string) error {
	res, err := parser.Parse(strings.NewReader(change))
	if err != nil || len(res.AST.Children) != 1 {
		return fmt.Errorf("--change %q: not one Dockerfile instruction", change)
	}
	cmd, err := instructions.ParseInstruction(res.AST.Children[0])
	if err != nil {
		return fmt.Errorf("--change %q: %w", change, err)
	}
	c := &cfg.Config
	shell := func(args []string, prepend bool) []string {
		if !prepend {
			return args
		}
		return []string{"/bin/sh", "-c", strings.Join(args, " ")}
	}
	switch x := cmd.(type) {
	case *instructions.CmdCommand:
		c.Cmd = shell(x.CmdLine, x.PrependShell)
	case *instructions.EntrypointCommand:
		c.Entrypoint = shell(x.CmdLine, x.PrependShell)
	case *instructions.EnvCommand:
		for _, kv := range x.Env {
			c.Env = append(c.Env, kv.Key+"="+kv.Value)
		}
	case *instructions.LabelCommand:
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range x.Labels {
			c.Labels[kv.Key] = kv.Value
		}
	case *instructions.ExposeCommand:
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range x.Ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			c.ExposedPorts[p] = struct{}{}
		}
	case *instructions.UserCommand:
		c.User = x.User
	case *instructions.WorkdirCommand:
		c.WorkingDir = x.Path
	case *instructions.VolumeCommand:
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range x.Volumes {
			c.Volumes[v] = struct{}{}
		}
	case *instructions.StopSignalCommand:
		c.StopSignal = x.Signal
	case *instructions.OnbuildCommand:
		c.OnBuild = append(c.OnBuild, x.Expression)
	default:
		return fmt.Errorf("--change %q: %s cannot be changed on import (use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR or STOPSIGNAL)", change, strings.ToUpper(cmd.(instructions.Command).Name()))
	}
	return nil
}

const opExport = "strata.export"

func init() {
	executor.Register(opExport, exportOp)
}

// exportOp writes the merged root as a tar to stdout.
func exportOp(ctx context.Context, root string, _ []byte, stdout io.Writer) error {
	bw := bufio.NewWriterSize(stdout, 1<<20)
	if _, err := layer.WriteTar(ctx, root, bw, layer.WriteOptions{Format: layer.MergedFormat}); err != nil {
		return err
	}
	return bw.Flush()
}

// Export writes the merged filesystem of the image ref as one tar to w:
// whiteouts applied, no .wh. entries, hard links as tar hard links.
func Export(ctx context.Context, st *store.Store, ref string, w io.Writer) error {
	img, _, err := st.Image(ref)
	if err != nil {
		return err
	}
	unlock, err := st.RLock()
	if err != nil {
		return err
	}
	defer unlock()
	dirs, err := st.LayerDirs(ctx, img)
	if err != nil {
		return fmt.Errorf("export: extracting layers: %w", err)
	}
	if len(dirs) == 0 {
		return tar.NewWriter(w).Close()
	}
	lowers := make([]string, len(dirs))
	for i, d := range dirs {
		lowers[len(dirs)-1-i] = d.Path
	}
	var stderr strings.Builder
	err = executor.Do(ctx, executor.DoSpec{
		Rootfs: executor.Rootfs{Lower: lowers, ReadOnly: true},
		Op:     opExport,
		Stdout: w,
		Stderr: &stderr,
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

var _ = json.Marshal
