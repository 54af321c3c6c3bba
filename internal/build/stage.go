package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/plan"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/store"
)

// defaultPath is the PATH BuildKit gives an image whose base has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stageRun is the dispatch state of one stage.
type stageRun struct {
	b       *builder
	ps      *plan.Stage
	s       *state
	env     *dockerfile.Env // what words expand against and RUN sees: image env plus ARGs
	args    []instructions.KeyValuePairOptional
	lex     *shell.Lex
	noCache bool
	cmdSet  bool     // CMD was set in this stage
	keys    []string // cache keys of the steps, in order (for --cache-to)
	total   int
	n       int

	// cur is the instruction running, for a panic's message (nil: FROM).
	cur instructions.Command
}

func (b *builder) runStage(ctx context.Context, ps *plan.Stage) (_ *state, err error) {
	sr := &stageRun{b: b, ps: ps, lex: b.df.Lex(), total: len(ps.Src.Commands) + 1, n: 1,
		noCache: b.opts.NoCache}
	defer recoverAs(&err, sr.where)
	for _, f := range b.opts.NoCacheStages {
		if strings.EqualFold(f, ps.Name) || f == fmt.Sprint(ps.Index) {
			sr.noCache = true
		}
	}
	if err := sr.from(ctx); err != nil {
		return nil, err
	}
	var triggers []string
	if ps.BaseStage < 0 && len(sr.s.cfg.Config.OnBuild) > 0 {
		triggers = sr.s.cfg.Config.OnBuild
		sr.s.cfg.Config.OnBuild = nil
	}
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
	b.mu.Lock()
	b.stageKeys[ps.Index] = sr.keys
	b.mu.Unlock()
	return sr.s, nil
}

// parseTrigger parses an ONBUILD expression of the base image.
func parseTrigger(file string, ps *plan.Stage, expr string) ([]instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, &dockerfile.Error{File: file, Line: ps.Line, Msg: fmt.Sprintf("ONBUILD trigger %q of the base image: %v", expr, err)}
	}
	var out []instructions.Command
	for _, n := range res.AST.Children {
		c, err := instructions.ParseCommand(n)
		if err != nil {
			return nil, &dockerfile.Error{File: file, Line: ps.Line, Msg: fmt.Sprintf("ONBUILD trigger %q of the base image: %v", expr, err)}
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
	case strings.EqualFold(ps.Base, "scratch"):
		s = &state{key: hashKey("scratch")}
		s.cfg.OS = runtime.GOOS
		s.cfg.Architecture = runtime.GOARCH
		s.cfg.RootFS.Type = "layers"
		s.cfg.Config.WorkingDir = "/"
	default:
		var err error
		s, err = b.loadImage(ctx, ps.Base)
		if err != nil {
			b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: err.Error(), Time: time.Now()})
			return dockerfile.Errorf(b.df.File, ps.Src.Location, "FROM %s: %v", ps.Base, err)
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
	hasPath := false
	for _, kv := range s.cfg.Config.Env {
		if strings.HasPrefix(kv, "PATH=") {
			hasPath = true
		}
	}
	if !hasPath {
		s.cfg.Config.Env = append(s.cfg.Config.Env, "PATH="+defaultPath)
	}
	sr.s = s
	sr.env = dockerfile.NewEnv(s.cfg.Config.Env)
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
	if _, isArg := cmd.(*instructions.ArgCommand); !isArg {
		if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			err := ex.Expand(func(word string) (string, error) {
				out, _, err := sr.lex.ProcessWord(word, sr.env)
				return out, err
			})
			if err != nil {
				return dockerfile.Errorf(b.df.File, cmd.Location(), "%s: %v", strings.ToUpper(cmd.Name()), err)
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
				return dockerfile.Errorf(b.df.File, cmd.Location(), "%s: %v", strings.ToUpper(cmd.Name()), err)
			}
		}
	}
	text := prefix + instructionText(cmd)
	name := stepName(sr.ps, sr.ps.Index == b.plan.Target, sr.n, sr.total, text)
	var err error
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		err = sr.run(ctx, c, name)
	case *instructions.CopyCommand:
		err = sr.copy(ctx, c, name)
	case *instructions.AddCommand:
		err = sr.add(ctx, c, name)
	case *instructions.WorkdirCommand:
		err = sr.workdir(ctx, c, name)
	default:
		err = sr.meta(ctx, cmd)
	}
	if err != nil {
		var de *dockerfile.Error
		if errors.As(err, &de) || errors.Is(err, context.Canceled) {
			return err
		}
		return dockerfile.Errorf(b.df.File, cmd.Location(), "%s: %v", strings.ToUpper(cmd.Name()), err)
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

// meta handles the instructions that only change the config.
func (sr *stageRun) meta(ctx context.Context, cmd instructions.Command) error {
	cfg := &sr.s.cfg.Config
	now := sr.b.now()
	var hist string
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		var sb strings.Builder
		sb.WriteString("ENV")
		for _, kv := range c.Env {
			sb.WriteString(" " + kv.Key + "=" + kv.Value)
			sr.env.Set(kv.Key, kv.Value)
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
		hist = sb.String()
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		var sb strings.Builder
		sb.WriteString("LABEL")
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
			sb.WriteString(" " + kv.Key + "=" + kv.Value)
		}
		hist = sb.String()
	case *instructions.MaintainerCommand:
		sr.s.cfg.Author = c.Maintainer
		hist = "MAINTAINER " + c.Maintainer
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		var ports []string
		for _, p := range c.Ports {
			w, err := sr.expand(c.Location(), p)
			if err != nil {
				return err
			}
			for _, f := range strings.Fields(w) {
				ps, err := normalizePorts(f)
				if err != nil {
					return err
				}
				for _, p := range ps {
					cfg.ExposedPorts[p] = struct{}{}
					ports = append(ports, p)
				}
			}
		}
		hist = "EXPOSE map[" + strings.Join(mapKeys(ports), " ") + "]"
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
		hist = fmt.Sprintf("VOLUME %v", c.Volumes)
	case *instructions.StopSignalCommand:
		if !validSignal(c.Signal) {
			return fmt.Errorf("invalid signal %q: use a name like SIGTERM or a number", c.Signal)
		}
		cfg.StopSignal = c.Signal
		hist = "STOPSIGNAL " + c.Signal
	case *instructions.ShellCommand:
		cfg.Shell = c.Shell
		hist = fmt.Sprintf("SHELL %v", c.Shell)
	case *instructions.UserCommand:
		cfg.User = c.User
		hist = "USER " + c.User
	case *instructions.CmdCommand:
		args := c.CmdLine
		if c.PrependShell {
			args = sr.withShell(args)
		}
		cfg.Cmd = args
		cfg.ArgsEscaped = true
		sr.cmdSet = true
		hist = fmt.Sprintf("CMD %q", args)
	case *instructions.EntrypointCommand:
		args := c.CmdLine
		if c.PrependShell {
			args = sr.withShell(args)
		}
		cfg.Entrypoint = args
		if !sr.cmdSet {
			cfg.Cmd = nil
		}
		hist = fmt.Sprintf("ENTRYPOINT %q", args)
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		hist = fmt.Sprintf("HEALTHCHECK %+v", *cfg.Healthcheck)
		sr.s.startInterval = h.StartInterval
		if h.StartInterval != 0 {
			hist += fmt.Sprintf(" StartInterval:%s", h.StartInterval)
		}
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
		hist = "ONBUILD " + c.Expression
	case *instructions.ArgCommand:
		var strs []string
		for _, kv := range c.Args {
			v, ok := sr.b.opts.BuildArgs[kv.Key]
			switch {
			case ok:
			case kv.Value != nil:
				w, err := sr.expand(c.Location(), *kv.Value)
				if err != nil {
					return err
				}
				v, ok = w, true
			default:
				v, ok = sr.b.plan.MetaArgs.Get(kv.Key)
				if !ok {
					v, ok = plan.PlatformArgs("")[kv.Key]
				}
			}
			if ok {
				val := v
				kv.Value = &val
				sr.env.Set(kv.Key, v)
				strs = append(strs, kv.Key+"="+v)
			} else {
				kv.Value = nil
				strs = append(strs, kv.Key)
			}
			sr.args = append(sr.args, kv)
		}
		hist = "ARG " + strings.Join(strs, " ")
	default:
		return fmt.Errorf("instruction %s is not supported", strings.ToUpper(cmd.Name()))
	}
	sr.s.history(hist, true, now)
	key := hashKey(sr.s.key, "meta", hist, strings.Join(sr.env.List(), "\x00"))
	hit, err := sr.cached(ctx, key, "")
	if err != nil || hit {
		return err
	}
	sr.s.key = key
	return sr.remember(key, nil)
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
// (--cache-from); on a hit it moves the state to the recorded one.
//
// The record's config comes from whichever build stored it, perhaps from a
// Dockerfile that spells the same steps differently (COPY --from=0 and
// --from=compiler share a key): the history text of the steps so far, and
// createdBy for this step's own entry when given, are this build's.
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
	var d cacheData
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return false, nil // an unreadable record is a miss
	}
	next := sr.s.clone()
	if err := json.Unmarshal(d.Config, &next.cfg); err != nil {
		return false, nil
	}
	next.startInterval = startIntervalOf(d.Config)
	if cur, h := sr.s.cfg.History, next.cfg.History; len(h) >= len(cur) {
		for i := range cur {
			h[i].CreatedBy = cur[i].CreatedBy
		}
		if createdBy != "" && len(h) > len(cur) {
			h[len(h)-1].CreatedBy = createdBy
		}
	}
	if d.Layer != nil {
		next.layers = append(next.layers, *d.Layer)
		if len(next.layers) != len(next.cfg.RootFS.DiffIDs) {
			return false, nil
		}
		chain := next.chain()
		ld, ok := sr.b.st.HasLayerDir(chain)
		if !ok && !sr.b.st.HasBlob(d.Layer.Blob) {
			return false, nil // a layer kept without its blob, whose files are gone
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
	} else if len(next.layers) != len(next.cfg.RootFS.DiffIDs) {
		return false, nil
	}
	next.key = key
	sr.s = next
	sr.keys = append(sr.keys, key)
	return true, nil
}

// remember records the state reached by key.
func (sr *stageRun) remember(key string, l *layerInfo) error {
	cfg, err := sr.s.configJSON()
	if err != nil {
		return err
	}
	data, err := json.Marshal(cacheData{Config: cfg, Layer: l})
	if err != nil {
		return err
	}
	sr.keys = append(sr.keys, key)
	rec := store.CacheRecord{Key: key, Created: time.Now().UTC(), Data: data}
	if l != nil {
		if sr.b.st.HasBlob(l.Blob) {
			rec.Blobs = []v1.Hash{l.Blob}
		}
		rec.Chains = []v1.Hash{sr.s.chain()}
	}
	return sr.b.st.PutCache(rec)
}
