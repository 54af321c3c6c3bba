package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/containerd/stargz-snapshotter/estargz"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/iox"
	"github.com/strata-build/strata/internal/layer"
)

// Estargz is the compression of eStargz layers: gzip that a lazy-pulling
// snapshotter can read file by file, with a table of contents (TOC). Any
// runtime that reads gzip layers runs them. Converting a layer to eStargz
// rewrites its tar (the TOC and landmark entries are added), so its diff_id,
// and the image's config and ID, change.
const Estargz layer.Compression = "estargz"

// Estargz layers are built in a fixed number of parts, so that the blob is
// the same whatever the machine's core count.
const estargzParallelism = 4

// estargzLayer converts l into an eStargz blob in a file in dir.
func estargzLayer(ctx context.Context, l v1.Layer, dir string, level int) (*fileLayer, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, fmt.Errorf("reading diff_id: %w", err)
	}
	// estargz.Build reads its input at random: the layer's tar goes to a file.
	src, err := os.CreateTemp(dir, "tar-"+diffID.Hex[:12]+"-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(src.Name())
	defer src.Close()
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", diffID, err)
	}
	n, err := io.Copy(src, iox.ContextReader{Ctx: ctx, R: rc})
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", diffID, err)
	}
	opts := []estargz.Option{estargz.WithContext(ctx), estargz.WithParallelism(estargzParallelism)}
	if level != 0 {
		opts = append(opts, estargz.WithCompressionLevel(level))
	}
	blob, err := estargz.Build(io.NewSectionReader(src, 0, n), opts...)
	if err != nil {
		return nil, fmt.Errorf("converting layer %s to estargz: %w", diffID, err)
	}
	defer blob.Close()
	f, err := os.CreateTemp(dir, "estargz-"+diffID.Hex[:12]+"-*")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &iox.CountWriter{W: io.MultiWriter(f, h)}
	if _, err := io.Copy(cw, iox.ContextReader{Ctx: ctx, R: blob}); err != nil {
		return nil, fmt.Errorf("converting layer %s to estargz: %w", diffID, err)
	}
	if err := blob.Close(); err != nil {
		return nil, fmt.Errorf("converting layer %s to estargz: %w", diffID, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("converting layer %s to estargz: %w", diffID, err)
	}
	newDiffID, err := v1.NewHash(blob.DiffID().String())
	if err != nil {
		return nil, fmt.Errorf("converting layer %s to estargz: %w", diffID, err)
	}
	ann := map[string]string{estargz.TOCJSONDigestAnnotation: blob.TOCDigest().String()}
	if us, err := blob.UncompressedSize(); err == nil {
		ann[estargz.StoreUncompressedSizeAnnotation] = strconv.FormatInt(us, 10)
	}
	return &fileLayer{
		path:        f.Name(),
		digest:      v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		size:        cw.N,
		diffID:      newDiffID,
		annotations: ann,
	}, nil
}

// withDiffIDs returns the raw config rawCfg with its rootfs.diff_ids
// replaced by ids, every other field kept as it is.
func withDiffIDs(rawCfg []byte, ids []v1.Hash) ([]byte, error) {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(rawCfg, &cfg); err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	rootfs, err := json.Marshal(v1.RootFS{Type: "layers", DiffIDs: ids})
	if err != nil {
		return nil, err
	}
	cfg["rootfs"] = rootfs
	return json.Marshal(cfg)
}
