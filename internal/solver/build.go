// Package solver is strata's solver: it runs a plan's stages (independent ones
// at once), one handler per Dockerfile instruction, looks every step up in the
// build cache first, and writes the target stage as an image to the store.
package solver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/strata-build/strata/internal/buildcontext"
	"github.com/strata-build/strata/internal/cacheio"
	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/plan"
	"github.com/strata-build/strata/internal/procspec"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/snapshot"
	"github.com/strata-build/strata/internal/store"
)

// Options describe one build.
type Options struct {
	// ContextDir is the build context directory ("" for no context, with
	// Dockerfile content given directly).
	ContextDir string
	// ContextFetched tells a context fetched into ContextDir (a tar on
	// stdin, a git repository): its .dockerignore is not applied, as
	// BuildKit applies it only to local directories.
	ContextFetched bool
	// DockerfilePath is the Dockerfile to read (default ContextDir/Dockerfile).
	DockerfilePath string
	// DockerfileContent, when non-nil, is used instead of reading DockerfilePath.
	DockerfileContent []byte
	// DockerfileName is the name used in messages (default: the path as given).
	DockerfileName string
	// Tags name the resulting image.
	Tags []string
	// Slimmer, when set, shrinks the final image before it is tagged.
	Slimmer Slimmer
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	// Labels are added to the image config (--label).
	Labels map[string]string
	// Target is the stage to build (default the last).
	Target string
	// NoCache runs every step even when the cache has it.
	NoCache bool
	// NoCacheStages names stages (--no-cache-filter) whose steps are always run.
	NoCacheStages []string
	// Network is "host" (default) or "none".
	Network string
	// NamedContexts are the --build-context values, by ContextName.
	NamedContexts map[string]NamedContext
	// ExtraHosts end the /etc/hosts of every RUN (--add-host).
	ExtraHosts []procspec.ExtraHost
	// ShmSize is the size in bytes of every RUN's /dev/shm (--shm-size; 0:
	// executor.DefaultShmSize).
	ShmSize int64
	// Rlimits are set on every RUN's command (--ulimit).
	Rlimits []executor.Rlimit
	// Allow are the entitlements granted (--allow): EntitlementSecurityInsecure
	// lets RUN --security=insecure run with every privilege.
	Allow []string
	// SourceDateEpoch, when set, makes the build reproducible as
	// SOURCE_DATE_EPOCH asks: history and image creation times are this time,
	// and no file in a layer the build makes has a later mtime.
	SourceDateEpoch *time.Time
	// KeepLayerBlobs stores a blob for every layer the build makes. By
	// default the layers of stages that reach no image (a compiler stage
	// used through COPY --from) are kept as layer dirs only, never tarred
	// nor hashed (lazy): --cache-to mode=max needs them.
	KeepLayerBlobs bool
	// Jobs bounds how many stages run at once (default: no bound).
	Jobs int
	// Progress receives the build's events (default: discarded).
	Progress progress.Sink
	// Pull resolves base images from the registry even when the store has them.
	Pull bool
	// Puller fetches an image the store lacks (nil: missing images are errors).
	Puller Puller
	// Squash merges the layers the Dockerfile added into one and keeps the
	// base image's layers as they are, shared (--squash).
	Squash bool
	// SquashAll makes one layer of the whole image, config kept (--squash-all).
	SquashAll bool
	// Secrets are the --secret values by id, for RUN --mount=type=secret.
	// Their content reaches no layer, history entry or cache key; whether
	// one was given is part of the key of the RUNs that mount it.
	Secrets map[string][]byte
	// SSH are the SSH agent sockets by id (--ssh), for RUN
	// --mount=type=ssh; whether one was given is part of the key of the
	// RUNs that mount it.
	SSH map[string]string
	// CacheFrom are imported caches, asked in order for a step the store's
	// cache lacks, after those Build opens from CacheImports.
	CacheFrom []CacheSource
	// CacheImports are the caches to import (--cache-from). One that cannot
	// be read is a warning, as in BuildKit: the build runs without it.
	CacheImports []cacheio.Spec
	// CacheExports are where the build's cache is exported once the image is
	// written (--cache-to); mode=max implies KeepLayerBlobs.
	CacheExports []cacheio.Spec
	// CacheRegistry configures the registry client of the type=registry
	// CacheImports and CacheExports (insecure registries, CAs, mirrors).
	CacheRegistry registry.Options
	// Snapshotter chooses how steps get their filesystem (--snapshotter):
	// overlay (the default), native (copies, where overlayfs cannot be
	// mounted) or auto (native when an overlay mount fails).
	Snapshotter snapshot.Kind
	// Version is strata's version, stamped on exported caches; an imported
	// cache of another version (or platform) is refused.
	Version string
	// Isolation chooses how RUN is isolated (--isolation): namespaces,
	// chroot (with the native snapshotter, for containers that refuse
	// namespaces and mounts) or auto (the default when empty: chroot when
	// the built-in sandbox's namespaces are refused here).
	Isolation executor.Isolation
	// Executor runs the steps' processes and file ops (nil: the built-in
	// sandbox, namespaces on overlayfs).
	Executor Executor
	// Layers, when set, is told of each layer blob a step writes for the
	// image as soon as it is in the store, while later steps still run (a
	// push output uploads it then).
	Layers LayerSink
}

// LayerSink is told of the layer blobs a build writes.
type LayerSink interface {
	// LayerWritten is called with the digest of a layer blob now in the
	// store: a plain tar (OCI uncompressed layer), so the digest is also
	// its diff_id. It must return at once: the build waits for it.
	LayerWritten(blob v1.Hash)
}

// CacheSource is a build cache kept elsewhere (a registry, a directory).
type CacheSource interface {
	// Fetch copies the cache record key, with the blobs it needs, into the
	// store, and reports whether the source had it.
	Fetch(ctx context.Context, key string) (bool, error)
}

// Puller fetches a base image into the store.
type Puller interface {
	Pull(ctx context.Context, ref string) error
}

// Result is what a build produced.
type Result struct {
	// ImageID is the config digest ("sha256:…"), docker's image ID.
	ImageID v1.Hash
	// Manifest is the manifest digest.
	Manifest v1.Hash
	// Names are the normalised names given to the image.
	Names []string
	// Steps counts the steps run and the steps taken from the cache.
	Steps, Cached int
	// Warnings are messages for the user (unused build args, parser warnings).
	Warnings []string
	// CacheKeys are the cache keys of every step of every stage built, in
	// stage order (what --cache-to mode=max exports).
	CacheKeys []string
	// TargetCacheKeys are the cache keys of the target stage's steps and of
	// the stages it is built FROM (what mode=min exports).
	TargetCacheKeys []string
	// Timings tell where the build's time went.
	Timings Timings
}

// builder is one build in progress.
type builder struct {
	opts    Options
	st      *store.Store
	df      *dockerfile.Dockerfile
	plan    *plan.Plan
	bctx    *buildcontext.Context
	sink    progress.Sink
	exec    Executor
	counter progress.Counter
	tmp     string // per-build scratch dir in the store
	snap    snapshot.Snapshotter

	mu      sync.Mutex
	results map[int]*stageResult
	steps   int
	cached  int
	images  map[string]*state // images used by COPY --from / RUN --mount, by ref
	// stageKeys are the cache keys of each finished stage's steps.
	stageKeys map[int][]string
	ctxViews  ctxViews // what context bind mounts show
	// planOnly makes the build a Plan: steps are looked up, never run.
	planOnly bool
	planned  []PlannedStep // the steps a Plan looked up
	named    namedContexts
	times    timer // where the build's time went
	// background holds a slot per layer tar written in the background
	// (pending.go): their buffers are the memory they take.
	background chan struct{}
}

// stageResult is a stage's final state, published when done closes.
type stageResult struct {
	done chan struct{}
	st   *state
	err  error
}

// setDefaults fills in the options a build left empty and checks --network.
func (opts *Options) setDefaults() error {
	if opts.Network == "" {
		opts.Network = "host"
	}
	if opts.Network != "host" && opts.Network != "none" {
		return fmt.Errorf("build: --network %q: only host and none are supported", opts.Network)
	}
	if opts.Jobs <= 0 {
		// Every stage whose dependencies are done runs, as BuildKit does:
		// RUN steps mostly wait on the network and the disk, so capping them
		// at the core count would serialise sleeps and downloads.
		opts.Jobs = 1 << 16
	}
	if opts.Progress == nil {
		opts.Progress = progress.Discard{}
	}
	if opts.Executor == nil {
		opts.Executor = sandbox{}
	}
	return nil
}

// buildImage runs a build described by opts against st, with the caches
// already opened (Build).
func buildImage(ctx context.Context, st *store.Store, opts Options) (_ *Result, err error) {
	defer recoverAs(&err, func() string { return "build" })
	b, res, done, err := newBuilder(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	final, err := b.runStages(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := b.export(ctx, final)
	if err != nil {
		return nil, err
	}
	res.ImageID, res.Manifest = rec.ID, rec.Manifest
	for _, t := range opts.Tags { // this build's names, not every name the image has
		if n, err := store.Normalize(t); err == nil && !slices.Contains(res.Names, n) {
			res.Names = append(res.Names, n)
		}
	}
	res.Steps, res.Cached = b.steps, b.cached
	res.CacheKeys, res.TargetCacheKeys = b.cacheKeys()
	res.Timings = b.times.get()
	return res, nil
}

// newBuilder reads and plans the Dockerfile opts names, reports its
// warnings, opens the context and takes the store's shared lock: what a
// build (or Plan) does before its first step. done releases what it holds.
func newBuilder(ctx context.Context, st *store.Store, opts Options) (_ *builder, _ *Result, done func(), err error) {
	if err := opts.setDefaults(); err != nil {
		return nil, nil, nil, err
	}
	src, name, err := readDockerfile(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	df, err := dockerfile.Parse(name, src)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := plan.New(df, plan.Options{Target: opts.Target, BuildArgs: opts.BuildArgs, IsNamedContext: opts.isNamedContext})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := p.CheckStages("--no-cache-filter", opts.NoCacheStages); err != nil {
		return nil, nil, nil, fmt.Errorf("build: %w", err)
	}
	b := &builder{opts: opts, st: st, df: df, plan: p, sink: opts.Progress, exec: opts.Executor,
		results: map[int]*stageResult{}, images: map[string]*state{}, stageKeys: map[int][]string{},
		background: make(chan struct{}, backgroundTars)}
	if err := b.checkDockerfile(); err != nil {
		return nil, nil, nil, err
	}
	res := &Result{Warnings: append(append([]string(nil), df.Warnings...), p.Warnings...)}
	for _, a := range p.UnusedBuildArgs(opts.BuildArgs) {
		if a == "SOURCE_DATE_EPOCH" {
			continue // consumed by the build itself
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("[Warning] one or more build args were not consumed: %s", a))
	}
	for _, n := range opts.unusedContexts(p) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("[Warning] the build context %s is not used: no FROM, COPY --from or RUN --mount from= of the stages built names it", n))
	}
	for _, w := range res.Warnings {
		b.warn(w)
	}
	if b.bctx, err = openContext(opts); err != nil {
		return nil, nil, nil, err
	}
	unlock, err := st.RLock()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("build: locking the store: %w", err)
	}
	if b.tmp, err = st.TempDir("build-"); err != nil {
		unlock()
		return nil, nil, nil, fmt.Errorf("build: %w", err)
	}
	// a fetched context (git, a tarball, stdin) is a new directory each
	// time: there is nothing to keep of it
	keepHashes := b.bctx != nil && !opts.ContextFetched
	if keepHashes {
		b.loadHashes(b.bctx)
	}
	done = func() {
		if keepHashes {
			b.saveHashes(b.bctx)
		}
		os.RemoveAll(b.tmp)
		unlock()
	}
	if b.snap, err = b.newSnapshotter(ctx); err != nil {
		done()
		return nil, nil, nil, err
	}
	return b, res, done, nil
}

// openContext opens the build context of opts, nil when it has none.
func openContext(opts Options) (*buildcontext.Context, error) {
	if opts.ContextDir == "" {
		return nil, nil
	}
	// the ignore file beside the Dockerfile, wherever that is (-f
	// sub/app.Dockerfile, or outside the context): its path is relative to
	// the working directory, as readDockerfile reads it (a Dockerfile given
	// as content has none: the context's)
	var dfPath string
	if opts.DockerfilePath != "" && opts.DockerfileContent == nil {
		var err error
		if dfPath, err = filepath.Abs(opts.DockerfilePath); err != nil {
			return nil, fmt.Errorf("build: locating the Dockerfile: %w", err)
		}
	}
	var bctx *buildcontext.Context
	var err error
	if opts.ContextFetched {
		bctx, err = buildcontext.OpenUnfiltered(opts.ContextDir)
	} else {
		bctx, err = buildcontext.Open(opts.ContextDir, dfPath)
	}
	if err != nil {
		return nil, fmt.Errorf("build: opening the context: %w", err)
	}
	return bctx, nil
}

// export makes the target stage's final state the image in the store,
// squashed and slimmed when asked.
func (b *builder) export(ctx context.Context, final *state) (store.Record, error) {
	img, err := b.finish(ctx, final)
	if err != nil {
		return store.Record{}, err
	}
	start := time.Now()
	defer b.times.add(exportPart, start)
	if img, err = b.squash(ctx, img); err != nil {
		return store.Record{}, err
	}
	if img, err = b.slim(ctx, img); err != nil {
		return store.Record{}, err
	}
	rec, err := b.st.WriteImage(ctx, img, b.opts.Tags...)
	if err != nil {
		return store.Record{}, fmt.Errorf("build: writing the image: %w", err)
	}
	return rec, nil
}

// cacheKeys returns the keys of every stage's steps and of the target's
// FROM chain.
func (b *builder) cacheKeys() (all, target []string) {
	for _, i := range b.plan.Needed {
		all = append(all, b.stageKeys[i]...)
	}
	var chain [][]string
	for i := b.plan.Target; i >= 0; i = b.plan.Stages[i].BaseStage {
		chain = append(chain, b.stageKeys[i])
	}
	for i := len(chain) - 1; i >= 0; i-- {
		target = append(target, chain[i]...)
	}
	return all, target
}

// fetchCache asks the imported caches for key. An imported cache that fails
// is a miss, with a warning: a broken cache never stops a build.
func (b *builder) fetchCache(ctx context.Context, key string) bool {
	for _, src := range b.opts.CacheFrom {
		ok, err := src.Fetch(ctx, key)
		if err != nil {
			if ctx.Err() == nil {
				b.warn(fmt.Sprintf("[Warning] --cache-from: %v", err))
			}
			continue
		}
		if ok {
			return true
		}
	}
	return false
}

func readDockerfile(opts Options) ([]byte, string, error) {
	name := opts.DockerfileName
	if opts.DockerfileContent != nil {
		if name == "" {
			name = "Dockerfile"
		}
		return opts.DockerfileContent, name, nil
	}
	path := opts.DockerfilePath
	if path == "" {
		path = filepath.Join(opts.ContextDir, "Dockerfile")
	}
	if name == "" {
		name = path
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", fmt.Errorf("build: no Dockerfile at %s: give one with -f", path)
		}
		return nil, "", fmt.Errorf("build: reading the Dockerfile: %w", err)
	}
	return b, name, nil
}

// runStages runs the needed stages, each as soon as its dependencies are
// done, at most opts.Jobs at once, and returns the target's state.
func (b *builder) runStages(ctx context.Context) (*state, error) {
	for _, i := range b.plan.Needed {
		b.results[i] = &stageResult{done: make(chan struct{})}
	}
	g, gctx := errgroup.WithContext(ctx)
	sem := make(chan struct{}, b.opts.Jobs)
	for _, i := range b.plan.Needed {
		i := i
		g.Go(func() error {
			r := b.results[i]
			defer close(r.done)
			for _, d := range b.plan.Stages[i].Deps {
				dr := b.results[d]
				select {
				case <-dr.done:
				case <-gctx.Done():
					r.err = gctx.Err()
					return r.err
				}
				if dr.err != nil {
					r.err = dr.err
					return nil // the failing stage reports itself
				}
				if dr.st == nil {
					r.err = fmt.Errorf("build: stage %d ended without a result", d)
					return r.err
				}
			}
			select {
			case sem <- struct{}{}:
			case <-gctx.Done():
				r.err = gctx.Err()
				return r.err
			}
			defer func() { <-sem }()
			r.st, r.err = b.runStage(gctx, b.plan.Stages[i])
			return r.err
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("build: %w", ctx.Err())
		}
		return nil, err
	}
	if r := b.results[b.plan.Target]; r == nil || r.st == nil {
		return nil, fmt.Errorf("build: the target stage %d ended without a result", b.plan.Target)
	}
	return b.results[b.plan.Target].st, nil
}

// stageState returns the final state of a finished stage.
func (b *builder) stageState(i int) *state {
	return b.results[i].st
}

// stepName formats a step's progress name as BuildKit does: [name n/N] INSTR.
func stepName(ps *plan.Stage, last bool, n, total int, text string) string {
	prefix := ps.Name
	if prefix == "" && !last {
		prefix = fmt.Sprintf("stage-%d", ps.Index)
	}
	if prefix != "" {
		prefix += " "
	}
	return fmt.Sprintf("[%s%d/%d] %s", prefix, n, total, text)
}

// sortedKeys returns a map's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tailText formats the last output lines for an error message.
func tailText(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("\nlast output:")
	for _, l := range lines {
		sb.WriteString("\n  | ")
		sb.WriteString(l)
	}
	return sb.String()
}

var _ = io.Discard

// now is the time stamped on history entries: the build's SOURCE_DATE_EPOCH
// when it has one.
func (b *builder) now() time.Time {
	if e := b.opts.SourceDateEpoch; e != nil {
		return e.UTC()
	}
	return time.Now().UTC()
}

// blobsFor reports whether the layers stage index makes get a blob now:
// those of the target and of the stages it is built FROM reach the image.
func (b *builder) blobsFor(index int) bool {
	if b.opts.KeepLayerBlobs {
		return true
	}
	for i := b.plan.Target; i >= 0; i = b.plan.Stages[i].BaseStage {
		if i == index {
			return true
		}
	}
	return false
}
