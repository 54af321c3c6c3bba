package solver

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/distribution/reference"

	"github.com/strata-build/strata/internal/buildcontext"
	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/plan"
)

// NamedContext is a --build-context value: a directory whose files are
// the context, or an image. FROM name, COPY --from=name and RUN --mount
// from=name use it before a registry, and a stage of that name is replaced
// by it, as in BuildKit.
type NamedContext struct {
	// Dir is a directory (given, or a git repository checked out).
	Dir string
	// Fetched tells a git checkout from a local directory: only a local
	// directory's .dockerignore is applied, as in BuildKit.
	Fetched bool
	// Image is an image reference (docker-image://REF).
	Image string
}

// ContextName returns the name a named context is kept and looked up
// under, as BuildKit normalizes it: an image reference's familiar form
// without ":latest" (alpine, docker.io/library/alpine:latest → alpine).
func ContextName(name string) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", fmt.Errorf("invalid context name %q: %w (use a lowercase name, as for an image)", name, err)
	}
	return strings.TrimSuffix(reference.FamiliarString(named), ":latest"), nil
}

// namedContexts holds the states made of named contexts, made once.
type namedContexts struct {
	mu     sync.Mutex
	states map[string]*namedState
}

type namedState struct {
	once sync.Once
	s    *state
	err  error
}

// namedContext returns the named context of name and its normalized
// name, if there is one.
func (opts *Options) namedContext(name string) (string, NamedContext, bool) {
	if len(opts.NamedContexts) == 0 {
		return "", NamedContext{}, false
	}
	n, err := ContextName(name)
	if err != nil {
		return "", NamedContext{}, false
	}
	nc, ok := opts.NamedContexts[n]
	return n, nc, ok
}

// isNamedContext reports whether name is a named context (for the plan).
func (opts *Options) isNamedContext(name string) bool {
	_, _, ok := opts.namedContext(name)
	return ok
}

func (b *builder) namedContext(name string) (string, NamedContext, bool) {
	return b.opts.namedContext(name)
}

// imageState returns the state of an image a FROM, COPY --from or RUN
// --mount from= names: a named context of that name first, else the image.
func (b *builder) imageState(ctx context.Context, ref string, ps *plan.Stage) (*state, error) {
	if n, nc, ok := b.namedContext(ref); ok {
		s, err := b.contextState(ctx, n, nc, ps)
		if err != nil {
			return nil, fmt.Errorf("the build context %s: %w", n, err)
		}
		return s, nil
	}
	return b.loadImage(ctx, ref)
}

// contextState returns the state of a named context: its image, or a
// layer of its directory's files (its .dockerignore applied) on scratch,
// made by one cached copy step.
func (b *builder) contextState(ctx context.Context, name string, nc NamedContext, ps *plan.Stage) (*state, error) {
	if nc.Image != "" {
		return b.loadImage(ctx, nc.Image)
	}
	b.named.mu.Lock()
	if b.named.states == nil {
		b.named.states = map[string]*namedState{}
	}
	ns, ok := b.named.states[name]
	if !ok {
		ns = &namedState{}
		b.named.states[name] = ns
	}
	b.named.mu.Unlock()
	ns.once.Do(func() { ns.s, ns.err = b.dirState(ctx, name, nc, ps) })
	return ns.s, ns.err
}

// dirState copies the files of a named context's directory into a layer
// on scratch.
func (b *builder) dirState(ctx context.Context, name string, nc NamedContext, ps *plan.Stage) (*state, error) {
	dir := nc.Dir
	open := func() (*buildcontext.Context, error) { return buildcontext.Open(dir, "") }
	if nc.Fetched {
		open = func() (*buildcontext.Context, error) { return buildcontext.OpenUnfiltered(dir) }
	}
	bctx, err := open()
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	if !nc.Fetched {
		b.loadHashes(bctx)
		defer b.saveHashes(bctx)
	}
	sr := &stageRun{b: b, ps: ps, s: scratchState(), env: dockerfile.NewEnv(nil), lex: b.df.Lex(),
		noCache: b.opts.NoCache, bctx: bctx}
	sr.s.key = hashKey(sr.s.key, "context", name)
	req := copyReq{srcs: []string{"."}, dest: "/", text: "COPY . /"}
	if err := sr.copyStep(ctx, req, fmt.Sprintf("[context %s] load %s", name, dir)); err != nil {
		return nil, err
	}
	return sr.s, nil
}

// scratchState is the state of FROM scratch.
func scratchState() *state {
	s := &state{key: hashKey("scratch")}
	s.cfg.OS = runtime.GOOS
	s.cfg.Architecture = runtime.GOARCH
	s.cfg.RootFS.Type = "layers"
	s.cfg.Config.WorkingDir = "/"
	return s
}

// unusedContexts returns the named contexts that no stage the build needs
// names (FROM, COPY --from, RUN --mount from=, a stage replaced), sorted:
// a warning, as for unused build args, rather than silence.
func (opts *Options) unusedContexts(p *plan.Plan) []string {
	used := map[string]bool{}
	mark := func(name string) {
		if n, _, ok := opts.namedContext(name); ok {
			used[n] = true
		}
	}
	for _, i := range p.Needed {
		ps := p.Stages[i]
		if ps.Context != "" {
			mark(ps.Context)
			continue
		}
		if ps.BaseStage < 0 {
			mark(ps.Base)
		}
		for _, ref := range ps.Images {
			mark(ref)
		}
	}
	var out []string
	for n := range opts.NamedContexts {
		if !used[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
