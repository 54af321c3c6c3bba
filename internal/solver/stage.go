package solver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/strata-build/strata/internal/buildcontext"
	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/plan"
	"github.com/strata-build/strata/internal/procspec"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/store"
)

// stageRun is the dispatch state of one stage.
type stageRun struct {
	b       *builder
	ps      *plan.Stage
	s       *state
	env     *dockerfile.Env // what words expand against and RUN sees: image env plus ARGs
	args    []instructions.KeyValuePairOptional
	lex     *shell.Lex
	noCache bool
	cmdSet  bool // CMD was set in this stage
	// bctx is the context COPY and ADD read without --from (nil: the
	// build's).
	bctx *buildcontext.Context
	// baseHistory counts the history entries of the stage's base.
	baseHistory int
	keys        []string // cache keys of the steps, in order (for --cache-to)
	total       int
	n           int

	// cur is the instruction running, for a panic's message (nil: FROM).
	cur instructions.Command
	// pending are the top layers whose blobs are being written, bottom
	// first (pending.go).
	pending []*pendingLayer
}

func (b *builder) runStage(ctx context.Context, ps *plan.Stage) (_ *state, err error) {
	sr := &stageRun{b: b, ps: ps, lex: b.df.Lex(), total: len(ps.Src.Commands) + 1, n: 1,
		noCache: b.opts.NoCache}
	defer recoverAs(&err, sr.where)
	defer func() {
		// A failed step keeps the layers before it (a pending one
		// included) for the next build; a failed settle fails the stage.
		if serr := sr.settle(); err == nil && serr != nil {
			err = serr
		}
	}()
	for _, f := range b.opts.NoCacheStages {
		if j, ok := b.plan.Lookup(f); ok && j == ps.Index {
			sr.noCache = true
		}
	}
	if err := sr.from(ctx); err != nil {
		return nil, err
	}
	if ps.Context != "" {
		// replaced by a named context: nothing of the stage runs
		sr.s.runEnv = sr.env.List()
		return sr.s, nil
	}
	// The base's ONBUILD triggers run first and leave the config, whether
	// the base is an image or an earlier stage (as BuildKit does).
	triggers := sr.s.cfg.Config.OnBuild
	sr.s.cfg.Config.OnBuild = nil
	for _, t := range triggers {
		cmds, err := parseTrigger(b.df.File, ps, t)
		if err != nil {
			return nil, err
		}
		sr.total += len(cmds)
		for _, c := range cmds {
			sr.n++
			if err := sr.dispatch(ctx, c, "ONBUILD "); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range ps.Src.Commands {
		sr.n++
		if err := sr.dispatch(ctx, c, ""); err != nil {
			return nil, err
		}
	}
	if err := sr.settle(); err != nil {
		return nil, err
	}
	sr.s.runEnv = sr.env.List()
	fillHistoryTimes(sr.s.cfg.History, sr.baseHistory)
	b.mu.Lock()
	b.stageKeys[ps.Index] = sr.keys
	b.mu.Unlock()
	return sr.s, nil
}

// parseTrigger parses an ONBUILD expression of the base image.
func parseTrigger(file string, ps *plan.Stage, expr string) ([]instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, &dockerfile.Error{File: file, Line: ps.Line, Msg: fmt.Sprintf("ONBUILD trigger %q of the base %s: %v", expr, ps.Base, err)}
	}
	var out []instructions.Command
	for _, n := range res.AST.Children {
		c, err := instructions.ParseCommand(n)
		if err != nil {
			return nil, &dockerfile.Error{File: file, Line: ps.Line, Msg: fmt.Sprintf("ONBUILD trigger %q of the base %s: %v", expr, ps.Base, err)}
		}
		if r := dockerfile.Refusals(c); len(r) > 0 {
			return nil, &dockerfile.Error{File: file, Line: ps.Line, Msg: fmt.Sprintf("ONBUILD trigger %q of the base image: %s", expr, r[0])}
		}
		out = append(out, c)
	}
	return out, nil
}

// from sets up the stage's starting state.
func (sr *stageRun) from(ctx context.Context) error {
	b, ps := sr.b, sr.ps
	name := stepName(ps, ps.Index == b.plan.Target, 1, sr.total, "FROM "+ps.Base)
	id := b.counter.Next()
	start := time.Now()
	b.sink.Event(progress.Event{ID: id, Name: name, Status: progress.Started, Time: start})
	var s *state
	switch {
	case ps.BaseStage >= 0:
		s = b.stageState(ps.BaseStage).clone()
	case ps.Context != "":
		// replaced by the named context of its name
		n, nc, _ := b.namedContext(ps.Context)
		var err error
		if s, err = b.contextState(ctx, n, nc, ps); err != nil {
			b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: err.Error(), Time: time.Now()})
			return dockerfile.Errorf(b.df.File, ps.Src.Location, "stage %s, replaced by the build context %s: %w", ps.Name, n, err)
		}
		s = s.clone()
	case strings.EqualFold(ps.Base, "scratch"):
		s = scratchState()
	default:
		var err error
		s, err = b.imageState(ctx, ps.Base, ps)
		if err != nil {
			b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: err.Error(), Time: time.Now()})
			return dockerfile.Errorf(b.df.File, ps.Src.Location, "FROM %s: %w", ps.Base, err)
		}
		s = s.clone()
	}
	if s.cfg.RootFS.Type == "" {
		s.cfg.RootFS.Type = "layers"
	}
	if e := b.opts.SourceDateEpoch; e != nil && ps.BaseStage < 0 {
		// Every layer above carries clamped mtimes: other keys than a
		// build without SOURCE_DATE_EPOCH.
		s.key = hashKey(s.key, "source-date-epoch", strconv.FormatInt(e.Unix(), 10))
	}
	s.cfg.Config.Env = procspec.WithDefaultPath(s.cfg.Config.Env)
	sr.s = s
	sr.baseHistory = len(s.cfg.History)
	sr.env = dockerfile.NewEnv(s.cfg.Config.Env)
	if ps.BaseStage >= 0 && s.runEnv != nil {
		// A stage built FROM a stage sees its ARG values too, as in
		// BuildKit, where they are part of the state's environment (but
		// not of its "|N" RUN history, nor of the image's Env).
		sr.env = dockerfile.NewEnv(s.runEnv)
	}
	b.sink.Event(progress.Event{ID: id, Status: progress.Done, Elapsed: time.Since(start), Time: time.Now()})
	return nil
}

// loadImage finds ref in the store, pulling it when allowed.
func (b *builder) loadImage(ctx context.Context, ref string) (*state, error) {
	b.mu.Lock()
	if s, ok := b.images[ref]; ok {
		b.mu.Unlock()
		return s, nil
	}
	b.mu.Unlock()
	img, _, err := b.st.Image(ref)
	if (err != nil && errors.Is(err, store.ErrNotFound) || b.opts.Pull) && b.opts.Puller != nil {
		if perr := b.opts.Puller.Pull(ctx, ref); perr != nil {
			if err != nil {
				return nil, fmt.Errorf("not in the store, and pulling it failed: %w", perr)
			}
			return nil, perr
		}
		img, _, err = b.st.Image(ref)
	}
	if err != nil && b.planOnly && errors.Is(err, store.ErrNotFound) {
		return nil, &notCachedError{what: "the base image " + ref + " (not in the store)"}
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("no such image in the store: run \"strata pull %s\" or \"strata import\" a root filesystem under that name", ref)
		}
		return nil, err
	}
	s, err := stateFromImage(img)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.images[ref] = s
	b.mu.Unlock()
	return s, nil
}

// expand expands a word against the stage's environment.
func (sr *stageRun) expand(loc []parser.Range, word string) (string, error) {
	return sr.b.df.Expand(sr.lex, loc, word, sr.env)
}

// dispatch runs one instruction.
func (sr *stageRun) dispatch(ctx context.Context, cmd instructions.Command, prefix string) error {
	b := sr.b
	sr.cur = cmd
	if err := sr.expandWords(cmd); err != nil {
		return err
	}
	text := prefix + instructionText(cmd)
	name := stepName(sr.ps, sr.ps.Index == b.plan.Target, sr.n, sr.total, text)
	err := sr.dispatchCommand(ctx, cmd, name)
	if err != nil {
		var de *dockerfile.Error
		if errors.As(err, &de) || errors.Is(err, context.Canceled) {
			return err
		}
		return dockerfile.Wrap(b.df.File, cmd.Location(), strings.ToUpper(cmd.Name()), err)
	}
	return nil
}

// dispatchCommand hands cmd to its instruction's dispatch function.
func (sr *stageRun) dispatchCommand(ctx context.Context, cmd instructions.Command, name string) error {
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return sr.dispatchRun(ctx, c, name)
	case *instructions.CopyCommand:
		return sr.dispatchCopy(ctx, c, name)
	case *instructions.AddCommand:
		return sr.dispatchAdd(ctx, c, name)
	case *instructions.WorkdirCommand:
		return sr.dispatchWorkdir(ctx, c, name)
	case *instructions.EnvCommand:
		return sr.dispatchEnv(c)
	case *instructions.ArgCommand:
		return sr.dispatchArg(c)
	case *instructions.LabelCommand:
		return sr.dispatchLabel(c)
	case *instructions.ExposeCommand:
		return sr.dispatchExpose(c)
	case *instructions.VolumeCommand:
		return sr.dispatchVolume(c)
	case *instructions.UserCommand:
		return sr.dispatchUser(c)
	case *instructions.CmdCommand:
		return sr.dispatchCmd(c)
	case *instructions.EntrypointCommand:
		return sr.dispatchEntrypoint(c)
	case *instructions.ShellCommand:
		return sr.dispatchShell(c)
	case *instructions.StopSignalCommand:
		return sr.dispatchStopSignal(c)
	case *instructions.HealthCheckCommand:
		return sr.dispatchHealthcheck(c)
	case *instructions.OnbuildCommand:
		return sr.dispatchOnbuild(c)
	case *instructions.MaintainerCommand:
		return sr.dispatchMaintainer(c)
	}
	return fmt.Errorf("instruction %s is not supported", strings.ToUpper(cmd.Name()))
}

// expandWords expands the instruction's words against the stage's
// environment (ARG's own values are expanded when it is dispatched).
func (sr *stageRun) expandWords(cmd instructions.Command) error {
	b := sr.b
	if _, isArg := cmd.(*instructions.ArgCommand); isArg {
		return nil
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		err := ex.Expand(func(word string) (string, error) {
			out, _, err := sr.lex.ProcessWord(word, sr.env)
			return out, err
		})
		if err != nil {
			return dockerfile.Wrap(b.df.File, cmd.Location(), strings.ToUpper(cmd.Name()), err)
		}
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		err := ex.ExpandRaw(func(word string) (string, error) {
			lex := shell.NewLex('\\')
			lex.SkipProcessQuotes = true
			out, _, err := lex.ProcessWord(word, sr.env)
			return out, err
		})
		if err != nil {
			return dockerfile.Wrap(b.df.File, cmd.Location(), strings.ToUpper(cmd.Name()), err)
		}
	}
	return nil
}

// instructionText is the instruction as progress shows it.
func instructionText(cmd instructions.Command) string {
	if s, ok := cmd.(fmt.Stringer); ok {
		text := s.String()
		parts := strings.SplitN(text, " ", 2)
		parts[0] = strings.ToUpper(parts[0])
		return strings.Join(parts, " ")
	}
	return strings.ToUpper(cmd.Name())
}

// runKey is the cache key of a RUN of argv args on the stage's filesystem:
// what BuildKit's ExecOp holds (argv, env with the ARG values, user,
// working dir, network, security mode, mounts), and nothing of the image
// config that the RUN cannot see (labels, CMD, EXPOSE, ...).
func (sr *stageRun) runKey(args []string, mounts string, o runKeyOpts) string {
	parts := []string{sr.s.key, "run", strings.Join(args, "\x00"), strings.Join(sr.env.List(), "\x00"),
		sr.s.cfg.Config.User, sr.s.cfg.Config.WorkingDir, mounts,
		"network=" + o.network, // what a RUN sees depends on its network, as in BuildKit's ExecOp
		"security=" + o.security}
	// --add-host, --shm-size and --ulimit are part of BuildKit's ExecOp
	// too; a build without them keeps the keys it always had.
	opts := sr.b.opts
	for _, h := range opts.ExtraHosts {
		parts = append(parts, "host="+h.Name+"="+h.IP)
	}
	if opts.ShmSize != 0 {
		parts = append(parts, "shm="+strconv.FormatInt(opts.ShmSize, 10))
	}
	for _, l := range opts.Rlimits {
		parts = append(parts, fmt.Sprintf("rlimit=%d:%d:%d", l.Resource, l.Soft, l.Hard))
	}
	return hashKey(parts...)
}

// runKeyOpts are the sandbox settings of a RUN that reach its cache key.
type runKeyOpts struct {
	network  string // the step's network mode (RUN --network, else the build's)
	security string // sandbox or insecure
}

// withShell wraps a shell-form command line in SHELL (default /bin/sh -c).
func (sr *stageRun) withShell(args []string) []string {
	sh := sr.s.cfg.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string(nil), sh...), strings.Join(args, " "))
}

// setEnv sets key in a KEY=VALUE list, in place when present.
func setEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

func mapKeys(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s+":{}")
		}
	}
	sort.Strings(out)
	return out
}

// normalizePorts turns "80", "80/udp", "8000-8002" into "80/tcp"-style keys.
func normalizePorts(spec string) ([]string, error) {
	proto := "tcp"
	p, pr, ok := strings.Cut(spec, "/")
	if ok {
		proto = strings.ToLower(pr)
	}
	lo, hi, isRange := strings.Cut(p, "-")
	var a, z int
	if _, err := fmt.Sscanf(lo, "%d", &a); err != nil {
		return nil, fmt.Errorf("invalid port %q", spec)
	}
	z = a
	if isRange {
		if _, err := fmt.Sscanf(hi, "%d", &z); err != nil || z < a {
			return nil, fmt.Errorf("invalid port range %q", spec)
		}
	}
	var out []string
	for i := a; i <= z; i++ {
		out = append(out, fmt.Sprintf("%d/%s", i, proto))
	}
	return out, nil
}

// validSignal accepts what docker accepts for STOPSIGNAL.
func validSignal(s string) bool {
	if s == "" {
		return false
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil {
		return n > 0 && n < 65
	}
	return strings.HasPrefix(strings.ToUpper(s), "SIG") || len(s) >= 3
}

// resolvePath makes p absolute against the working directory, keeping a
// trailing slash.
func (sr *stageRun) resolvePath(p string) string {
	trailing := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.")
	if !path.IsAbs(p) {
		wd := sr.s.cfg.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		p = path.Join(wd, p)
	}
	p = path.Clean(p)
	if trailing && p != "/" {
		p += "/"
	}
	return p
}

// cacheData is what a build cache record holds.
type cacheData struct {
	Config json.RawMessage `json:"config"`
	Layer  *layerInfo      `json:"layer,omitempty"`
}

// cached looks key up, in the store and then in the imported caches
// (--cache-from); on a hit it adds the recorded layer to the state.
//
// Only the layer comes from the record: the config is this build's own (a
// LABEL or CMD changes no key, so the record may come from a build with
// other metadata, or from a Dockerfile that spells the same steps
// differently), with createdBy as the step's history entry, stamped with
// the time the layer was made.
func (sr *stageRun) cached(ctx context.Context, key, createdBy string) (bool, error) {
	if sr.noCache {
		return false, nil
	}
	rec, ok, err := sr.b.st.GetCache(key)
	if err == nil && !ok && sr.b.fetchCache(ctx, key) {
		rec, ok, err = sr.b.st.GetCache(key)
	}
	if err != nil || !ok {
		return false, err
	}
	if err := sr.settle(); err != nil { // the hit's layer dir is named after the layers below
		return false, err
	}
	var d cacheData
	var recCfg v1.ConfigFile
	if json.Unmarshal(rec.Data, &d) != nil || d.Layer == nil || json.Unmarshal(d.Config, &recCfg) != nil {
		return false, nil // an unreadable record, or one of no layer step, is a miss
	}
	ids, hist := recCfg.RootFS.DiffIDs, recCfg.History
	if len(ids) == 0 || ids[len(ids)-1] != d.Layer.DiffID || len(hist) == 0 {
		return false, nil
	}
	created := hist[len(hist)-1].Created.Time
	if e := sr.b.opts.SourceDateEpoch; e != nil {
		created = e.UTC()
	}
	next := sr.s.clone()
	next.layers = append(next.layers, *d.Layer)
	next.cfg.RootFS.DiffIDs = append(next.cfg.RootFS.DiffIDs, d.Layer.DiffID)
	chain := next.chain()
	ld, ok := sr.b.st.HasLayerDir(chain)
	if !ok && !sr.b.st.HasBlob(d.Layer.Blob) {
		return false, nil // a layer kept without its blob, whose files are gone
	}
	if d.Layer.Lazy && (!ok || sr.b.opts.KeepLayerBlobs) {
		// A lazy layer is its dir; and a cache export of every stage
		// wants the layer's real diff_id in the record: run the step.
		return false, nil
	}
	if ok && sr.b.opts.KeepLayerBlobs && !sr.b.st.HasBlob(d.Layer.Blob) {
		// A cache export of every stage needs the blob a build without
		// one skipped: write it, and let the record name it.
		if err := sr.b.blobFromDir(ctx, ld.Path, d.Layer.Blob); err != nil {
			return false, err
		}
		rec.Blobs = []v1.Hash{d.Layer.Blob}
		if err := sr.b.st.PutCache(rec); err != nil {
			return false, err
		}
	}
	if ok && len(next.dirs) == len(next.layers)-1 {
		next.dirs = append(append([]store.LayerDir(nil), next.dirs...), ld)
	} else {
		next.dirs = nil
	}
	next.history(createdBy, false, created)
	next.key = key
	sr.s = next
	sr.keys = append(sr.keys, key)
	return true, nil
}

// remember records the state reached by key.
func (sr *stageRun) remember(key string, l *layerInfo) error {
	sr.keys = append(sr.keys, key)
	return sr.b.record(sr.s, key, l)
}

// record writes the cache record of s, the state reached by key, whose
// top layer is l.
func (b *builder) record(s *state, key string, l *layerInfo) error {
	cfg, err := s.configJSON()
	if err != nil {
		return err
	}
	data, err := json.Marshal(cacheData{Config: cfg, Layer: l})
	if err != nil {
		return err
	}
	rec := store.CacheRecord{Key: key, Created: time.Now().UTC(), Data: data}
	if l != nil {
		if b.st.HasBlob(l.Blob) {
			rec.Blobs = []v1.Hash{l.Blob}
		}
		rec.Chains = []v1.Hash{s.chain()}
	}
	return b.st.PutCache(rec)
}
