package analyze

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/layer"
)

// Options tunes Analyze. The zero value is ready to use.
type Options struct {
	// Dockerfile, when set, is the Dockerfile the image was built from: its
	// last stage's (or Target's) instructions are matched to the history
	// entries so that rows and findings carry their line.
	Dockerfile *dockerfile.Dockerfile
	// Target is the stage of Dockerfile the image was built from (name or
	// index); "" is the last stage.
	Target string
	// Compression is the algorithm used to measure the compressed size of
	// layers stored uncompressed (default layer.Gzip, what a push sends).
	// layer.Uncompressed skips the measure, which takes most of the time
	// (about 10 s per GB of layers on two busy cores): such layers then
	// report a CompressedSize of 0.
	Compression layer.Compression
	// Top is the number of largest files and directories listed (default 10).
	Top int
	// MinBytes is the size below which a finding is not worth reporting
	// (default 10 kB).
	MinBytes int64
	// MaxLayers is the count of non-empty layers above which the layer-count
	// finding warns (default 100; overlayfs fails near 125).
	MaxLayers int
	// Jobs is the number of layers read at once (default 4).
	Jobs int
}

// Report is the analysis of one image. Sizes are in bytes.
type Report struct {
	// Dockerfile is the Dockerfile's name when one was given.
	Dockerfile string `json:"dockerfile,omitempty"`
	// Rows are the history entries, oldest first, each with its layer.
	Rows []Row `json:"rows"`
	// Layers is the number of non-empty layers.
	Layers int `json:"layers"`
	// Size is the sum of the uncompressed layer tars.
	Size int64 `json:"size"`
	// CompressedSize is the sum of the compressed layer sizes (those that
	// were measured).
	CompressedSize int64 `json:"compressedSize"`
	// FileBytes is the sum of the sizes of the files all layers hold.
	FileBytes int64 `json:"fileBytes"`
	// FinalBytes is the sum of the file sizes of the final filesystem.
	FinalBytes int64 `json:"finalBytes"`
	// Wasted is the number of bytes layers hold that later layers delete or
	// overwrite.
	Wasted int64 `json:"wasted"`
	// Efficiency is 1 - Wasted/FileBytes (1 for an image without files).
	Efficiency float64 `json:"efficiency"`
	// LargestFiles are the largest files of the final filesystem.
	LargestFiles []PathSize `json:"largestFiles"`
	// LargestDirs are the directories of the final filesystem holding the
	// most bytes (their whole subtree), the root left out.
	LargestDirs []PathSize `json:"largestDirs"`
	// Tree is the final filesystem by directory, small entries folded into
	// one "…" child per directory; it feeds treemaps.
	Tree *Node `json:"tree"`
	// WastedTree is the files later layers hid (deleted or overwritten), by
	// directory, as Tree; it feeds the treemap of wasted bytes.
	WastedTree *Node `json:"wastedTree"`
	// Findings are what could make the image smaller, largest first.
	Findings []Finding `json:"findings"`
	// Packages are the installed packages of the final filesystem, largest
	// first.
	Packages []Package `json:"packages"`
	// PackageBytes and UnownedBytes split FinalBytes into the bytes of
	// files a package owns and the others.
	PackageBytes int64 `json:"packageBytes"`
	UnownedBytes int64 `json:"unownedBytes"`
	// Unowned are the directories holding files no package owns, with
	// their bytes (not their subdirectories'), largest first.
	Unowned []PathSize `json:"unowned"`
	// PackageNotes say which package databases could not be read.
	PackageNotes []string `json:"packageNotes,omitempty"`
	// CI is the outcome of Check, when the caller stored it here.
	CI *CIResult `json:"ci,omitempty"`
}

// Row is one history entry of the image with the layer it made, if any.
type Row struct {
	// Layer is the index of the row's layer in the image's diff_ids, or -1
	// for an empty_layer entry.
	Layer int `json:"layer"`
	// CreatedBy is the history entry's created_by, as stored.
	CreatedBy string `json:"createdBy"`
	// Instruction is CreatedBy as a Dockerfile instruction ("RUN make"),
	// or the history comment when created_by is empty.
	Instruction string `json:"instruction"`
	// Line is the row's line in the Dockerfile given, 0 when unknown.
	Line int `json:"line,omitempty"`
	// DiffID is the layer's diff_id ("" for an empty entry).
	DiffID string `json:"diffId,omitempty"`
	// Size is the layer's uncompressed tar size.
	Size int64 `json:"size"`
	// ImageSize is the running sum of Size up to this row.
	ImageSize int64 `json:"imageSize"`
	// CompressedSize is the layer blob's size when stored compressed, else
	// the size it compresses to with Options.Compression (0 when not
	// measured).
	CompressedSize int64 `json:"compressedSize"`
	// Added, Changed and Removed count the non-directory paths the layer
	// creates, rewrites and deletes.
	Added   int `json:"filesAdded"`
	Changed int `json:"filesChanged"`
	Removed int `json:"filesRemoved"`
	// Wasted is the number of this layer's file bytes that later layers
	// delete or overwrite.
	Wasted int64 `json:"wasted"`
	// Hidden is the number of earlier layers' file bytes this layer deletes
	// or overwrites.
	Hidden int64 `json:"hidden"`
	// PackageBytes and UnownedBytes are the file bytes of the layer owned by
	// a package of the final image and by none. With the tar's headers and
	// padding (Size minus both) they make up Size.
	PackageBytes int64 `json:"packageBytes"`
	UnownedBytes int64 `json:"unownedBytes"`
}

// PathSize is a path of the final filesystem with its size.
type PathSize struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Layer int    `json:"layer"` // the layer that wrote it (for a directory: the most bytes of it)
}

// Node is a directory or file of Report.Tree.
type Node struct {
	Name     string  `json:"name"`
	Size     int64   `json:"size"`
	Children []*Node `json:"children,omitempty"`
}

// Kind names a kind of finding.
type Kind string

// The kinds of findings.
const (
	// DeletedLater is a layer deleting files an earlier layer added.
	DeletedLater Kind = "deleted-later"
	// PackageCache is a package manager's cache left in the final image.
	PackageCache Kind = "package-cache"
	// BuildTools is compilers, headers or build tools in the final image.
	BuildTools Kind = "build-tools"
	// Overwritten is a layer writing again files an earlier layer wrote.
	Overwritten Kind = "overwritten"
	// CopyUp is a layer writing again earlier files with the same content
	// (chmod, chown, touch, sed -i): each is copied whole into the layer.
	CopyUp Kind = "copy-up"
	// Bookkeeping is the package database and logs rewritten by each
	// install, reported once for the image.
	Bookkeeping Kind = "package-bookkeeping"
	// LayerCount is an image with enough layers to risk overlayfs's limit.
	LayerCount Kind = "layer-count"
)

// Finding is one way to make the image smaller, or one risk.
type Finding struct {
	Kind Kind `json:"kind"`
	// Layer is the diff_id index of the layer at fault, -1 for the image.
	Layer int `json:"layer"`
	// Instruction is that layer's instruction.
	Instruction string `json:"instruction,omitempty"`
	// Line is its Dockerfile line, 0 when unknown.
	Line int `json:"line,omitempty"`
	// Bytes is what fixing it saves.
	Bytes int64 `json:"bytes"`
	// Sources are the layers that added the bytes (DeletedLater,
	// Overwritten), with their lines when known.
	Sources []Source `json:"sources,omitempty"`
	// Paths are examples of the paths concerned, largest first.
	Paths []string `json:"paths,omitempty"`
	// Message says what is wrong, in one sentence, sizes in docker's units.
	Message string `json:"message"`
	// Fix says what to do.
	Fix string `json:"fix"`
}

// Source is an earlier layer whose bytes a finding is about.
type Source struct {
	Layer int   `json:"layer"`
	Line  int   `json:"line,omitempty"`
	Bytes int64 `json:"bytes"`
}

// Analyze reads the layers of img and reports where their bytes went.
func Analyze(ctx context.Context, img v1.Image, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	scans, err := scanLayers(ctx, layers, opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{Layers: len(layers)}
	if opts.Dockerfile != nil {
		rep.Dockerfile = opts.Dockerfile.File
	}
	rep.Rows = historyRows(cfg, len(layers))
	if opts.Dockerfile != nil {
		matchLines(rep.Rows, opts.Dockerfile, opts.Target)
	}
	fs := newReplay(len(layers))
	for i, sc := range scans {
		fs.apply(i, sc.entries)
	}
	byLayer := map[int]*Row{}
	var running int64
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if r.Layer >= 0 {
			sc := scans[r.Layer]
			st := fs.stats[r.Layer]
			r.DiffID = sc.diffID
			r.Size, r.CompressedSize = sc.size, sc.compressed
			r.Added, r.Changed, r.Removed = st.added, st.changed, st.removed
			r.Wasted, r.Hidden = st.wasted, st.hidden
			byLayer[r.Layer] = r
		}
		running += r.Size
		r.ImageSize = running
	}
	for _, sc := range scans {
		rep.Size += sc.size
		rep.CompressedSize += sc.compressed
	}
	for _, st := range fs.stats {
		rep.FileBytes += st.bytes
		rep.Wasted += st.wasted
	}
	rep.Efficiency = 1
	if rep.FileBytes > 0 {
		rep.Efficiency = 1 - float64(rep.Wasted)/float64(rep.FileBytes)
	}
	rep.FinalBytes = sum(fs.root)
	rep.LargestFiles, rep.LargestDirs = fs.largest(opts.Top)
	rep.Tree = fs.tree(rep.FinalBytes / 400)
	sum(fs.hidden)
	rep.WastedTree = treeOf(fs.hidden, "/", rep.Wasted/400)
	pr := attribute(fs, scans, byLayer)
	rep.Packages, rep.Unowned, rep.PackageNotes = pr.packages, pr.unowned, pr.notes
	rep.PackageBytes, rep.UnownedBytes = pr.owned, pr.free
	rep.Findings = findings(fs, byLayer, opts)
	return rep, nil
}

func (o Options) withDefaults() Options {
	if o.Compression == "" {
		o.Compression = layer.Gzip
	}
	if o.Top <= 0 {
		o.Top = 10
	}
	if o.MinBytes <= 0 {
		o.MinBytes = 10_000
	}
	if o.MaxLayers <= 0 {
		o.MaxLayers = 100
	}
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	return o
}
