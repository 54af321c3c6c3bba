// Package plan turns a parsed Dockerfile into a graph of stages: which stage
// depends on which (FROM <stage>, COPY --from, RUN --mount from=), which of them
// the target needs, and in what order they can run. It is pure: no I/O.
package plan

import (
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/strata-build/strata/internal/dockerfile"
)

// Options are the inputs that shape the graph.
type Options struct {
	// Target names the stage to build (name or index); empty means the last.
	Target string
	// BuildArgs are the --build-arg values.
	BuildArgs map[string]string
	// Platform is the target platform (os/arch), default the host's.
	Platform string
	// IsNamedContext reports whether a name is a named context
	// (--build-context); nil: none is. A stage whose name is one is
	// replaced by it, as in BuildKit: its FROM and instructions are not
	// used.
	IsNamedContext func(name string) bool
}

// Stage is one FROM section of the Dockerfile.
type Stage struct {
	// Index is the stage's position in the Dockerfile, from 0.
	Index int
	// Name is the lower-cased AS name, or "".
	Name string
	// Base is the FROM reference after ARG expansion ("scratch" included).
	Base string
	// BaseStage is the index of the stage this one starts FROM, or -1.
	BaseStage int
	// Deps are the stages this one needs (its base stage and every --from), sorted.
	Deps []int
	// Images are image references used by COPY --from / RUN --mount from=.
	Images []string
	// Context, when not empty, is the named context that replaces the
	// stage (its name): the stage's FROM and instructions are not used.
	Context string
	// Line is the FROM line.
	Line int
	// Src is the stage as parsed.
	Src *instructions.Stage
}

// Plan is the graph of the stages a build needs.
type Plan struct {
	// Stages holds every stage of the Dockerfile, by index.
	Stages []*Stage
	// Target is the index of the stage that is built and tagged.
	Target int
	// Needed lists the stages the target needs, in an order where every stage
	// comes after its dependencies; the target is last.
	Needed []int
	// MetaArgs are the global ARG values (after --build-arg) used for FROM lines.
	MetaArgs *dockerfile.Env
	// UsedBuildArgs are the build args some ARG of a needed stage (or a global ARG) declares.
	UsedBuildArgs map[string]bool
	// Warnings are messages for the user about the Dockerfile's stages.
	Warnings []string
}

// PredefinedArgs are the ARGs every build knows without declaring them.
var predefinedArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

// IsPredefinedArg reports whether name is a proxy ARG that needs no declaration.
func IsPredefinedArg(name string) bool {
	for _, p := range predefinedArgs {
		if p == name {
			return true
		}
	}
	return false
}

// PlatformArgs returns BuildKit's automatic platform ARGs for platform "os/arch[/variant]".
func PlatformArgs(platform string) map[string]string {
	if platform == "" {
		platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	parts := strings.Split(platform, "/")
	os, arch, variant := parts[0], "", ""
	if len(parts) > 1 {
		arch = parts[1]
	}
	if len(parts) > 2 {
		variant = parts[2]
	}
	m := map[string]string{}
	for _, p := range []string{"TARGET", "BUILD"} {
		m[p+"PLATFORM"] = platform
		m[p+"OS"] = os
		m[p+"ARCH"] = arch
		m[p+"VARIANT"] = variant
	}
	return m
}

// setMetaArgs sets the global ARGs (those before the first FROM): defaults
// expanded in order, --build-arg wins.
func (p *Plan) setMetaArgs(df *dockerfile.Dockerfile, lex *shell.Lex, buildArgs, platformArgs map[string]string) error {
	for _, a := range df.MetaArgs {
		for _, kv := range a.Args {
			p.UsedBuildArgs[kv.Key] = true
			if v, ok := buildArgs[kv.Key]; ok {
				p.MetaArgs.Set(kv.Key, v)
				continue
			}
			if kv.Value != nil {
				env := withDefaults(p.MetaArgs, platformArgs)
				v, err := df.Expand(lex, a.Location(), *kv.Value, env)
				if err != nil {
					return err
				}
				p.MetaArgs.Set(kv.Key, v)
			} else if v, ok := platformArgs[kv.Key]; ok {
				p.MetaArgs.Set(kv.Key, v)
			}
		}
	}
	return nil
}

// New builds the plan of df.
func New(df *dockerfile.Dockerfile, opts Options) (*Plan, error) {
	p := &Plan{MetaArgs: dockerfile.NewEnv(nil), UsedBuildArgs: map[string]bool{}}
	lex := df.Lex()
	platformArgs := PlatformArgs(opts.Platform)
	if err := p.setMetaArgs(df, lex, opts.BuildArgs, platformArgs); err != nil {
		return nil, err
	}
	fromEnv := withDefaults(p.MetaArgs, platformArgs)
	byName := map[string]int{}
	for i := range df.Stages {
		src := &df.Stages[i]
		st := &Stage{Index: i, Name: strings.ToLower(src.Name), BaseStage: -1, Line: dockerfile.Line(src.Location), Src: src}
		base, err := df.Expand(lex, src.Location, src.BaseName, fromEnv)
		if err != nil {
			return nil, err
		}
		if base == "" {
			return nil, dockerfile.Errorf(df.File, src.Location, "FROM %s expands to an empty image name: give the ARG a default or pass --build-arg", src.BaseName)
		}
		st.Base = base
		if st.Name != "" && opts.IsNamedContext != nil && opts.IsNamedContext(st.Name) {
			st.Context = st.Name
			p.addStage(st, byName, df.File)
			continue
		}
		deps := map[int]bool{}
		if j, ok := byName[strings.ToLower(base)]; ok {
			st.BaseStage = j
			deps[j] = true
		} else if strings.EqualFold(base, st.Name) && st.Name != "" {
			return nil, dockerfile.Errorf(df.File, src.Location, "stage %q starts FROM itself: a stage can only start from an earlier stage or an image", st.Name)
		}
		addFrom := func(from string, loc []parser.Range, what string) error {
			j, isStage, err := resolveFrom(from, i, byName, df.Stages)
			if err != nil {
				return dockerfile.Errorf(df.File, loc, "%s: %v", what, err)
			}
			if isStage {
				deps[j] = true
			} else if !containsStr(st.Images, from) {
				st.Images = append(st.Images, from)
			}
			return nil
		}
		cmds := src.Commands
		if st.BaseStage >= 0 {
			// The base stage's ONBUILD triggers run in this stage first:
			// their --from stages are this stage's dependencies too.
			triggers, err := stageTriggers(df, st.BaseStage, src.Location)
			if err != nil {
				return nil, err
			}
			cmds = append(triggers, cmds...)
		}
		for _, cmd := range cmds {
			switch c := cmd.(type) {
			case *instructions.CopyCommand:
				if c.From == "" {
					continue
				}
				from, err := df.Expand(lex, c.Location(), c.From, fromEnv)
				if err != nil {
					return nil, err
				}
				if err := addFrom(from, c.Location(), "COPY --from="+c.From); err != nil {
					return nil, err
				}
			case *instructions.RunCommand:
				for _, m := range instructions.GetMounts(c) {
					if m.From == "" {
						continue
					}
					from, err := df.Expand(lex, c.Location(), m.From, fromEnv)
					if err != nil {
						return nil, err
					}
					if err := addFrom(from, c.Location(), "RUN --mount from="+m.From); err != nil {
						return nil, err
					}
				}
			}
		}
		for j := range deps {
			st.Deps = append(st.Deps, j)
		}
		sort.Ints(st.Deps)
		p.addStage(st, byName, df.File)
	}
	if err := p.prune(df.File, byName, opts.Target); err != nil {
		return nil, err
	}
	return p, nil
}

// addStage appends st and records its name.
func (p *Plan) addStage(st *Stage, byName map[string]int, file string) {
	p.Stages = append(p.Stages, st)
	if st.Name == "" {
		return
	}
	if j, dup := byName[st.Name]; dup {
		// BuildKit builds it (a DuplicateStageName lint warning) and
		// a later reference finds the last stage of that name.
		p.Warnings = append(p.Warnings, fmt.Sprintf("[Warning] %s:%d: duplicate stage name %q (also stage %d on line %d): later references use this stage, as BuildKit does; give every stage its own name",
			file, st.Line, st.Name, j, p.Stages[j].Line))
	}
	byName[st.Name] = st.Index
}

// prune sets the target stage (the last one, or the name or index target)
// and the stages it needs, and marks the ARGs they declare as used.
func (p *Plan) prune(file string, byName map[string]int, targetName string) error {
	target := len(p.Stages) - 1
	if targetName != "" {
		j, ok := p.Lookup(targetName)
		if !ok {
			return &dockerfile.Error{File: file, Msg: fmt.Sprintf("--target %q: no such stage (stages: %s)", targetName, strings.Join(p.stageNames(), ", "))}
		}
		target = j
	}
	p.Target = target
	// Depth-first from the target: dependencies come first. Since every
	// dependency is an earlier stage, ascending index order is topological.
	need := map[int]bool{}
	var visit func(int)
	visit = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		for _, d := range p.Stages[i].Deps {
			visit(d)
		}
	}
	visit(target)
	for i := range p.Stages {
		if need[i] {
			p.Needed = append(p.Needed, i)
		}
	}
	for _, i := range p.Needed {
		if p.Stages[i].Context != "" {
			continue // replaced: its ARGs are not declared
		}
		for _, cmd := range p.Stages[i].Src.Commands {
			if a, ok := cmd.(*instructions.ArgCommand); ok {
				for _, kv := range a.Args {
					p.UsedBuildArgs[kv.Key] = true
				}
			}
		}
	}
	return nil
}

// Lookup returns the index of the stage name names: its AS name (the last
// stage of that name, any case) or its index.
func (p *Plan) Lookup(name string) (int, bool) {
	for j := len(p.Stages) - 1; j >= 0; j-- {
		if p.Stages[j].Name != "" && p.Stages[j].Name == strings.ToLower(name) {
			return j, true
		}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < len(p.Stages) {
		return n, true
	}
	return 0, false
}

// CheckStages returns an error naming the first of names that names no
// stage (for flags such as --no-cache-filter), with the stages there are.
func (p *Plan) CheckStages(flag string, names []string) error {
	for _, n := range names {
		if _, ok := p.Lookup(n); !ok {
			return fmt.Errorf("%s %q: no such stage (stages: %s)", flag, n, strings.Join(p.stageNames(), ", "))
		}
	}
	return nil
}

// UnusedBuildArgs returns the --build-arg names that nothing declares, sorted.
func (p *Plan) UnusedBuildArgs(buildArgs map[string]string) []string {
	var out []string
	for k := range buildArgs {
		if !p.UsedBuildArgs[k] && !IsPredefinedArg(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Dependents returns, for each needed stage, the needed stages that wait for it.
func (p *Plan) Dependents() map[int][]int {
	out := map[int][]int{}
	for _, i := range p.Needed {
		for _, d := range p.Stages[i].Deps {
			out[d] = append(out[d], i)
		}
	}
	return out
}

func (p *Plan) stageNames() []string {
	var out []string
	for _, s := range p.Stages {
		if s.Name != "" {
			out = append(out, fmt.Sprintf("%d %s", s.Index, s.Name))
		} else {
			out = append(out, strconv.Itoa(s.Index))
		}
	}
	return out
}

// resolveFrom decides whether a --from value names an earlier stage (by
// name or index) or an image.
func resolveFrom(from string, cur int, byName map[string]int, stages []instructions.Stage) (int, bool, error) {
	if n, err := strconv.Atoi(from); err == nil {
		if n < 0 || n >= len(stages) {
			return 0, false, fmt.Errorf("no stage with index %d (this Dockerfile has stages 0 to %d)", n, len(stages)-1)
		}
		if n >= cur {
			return 0, false, fmt.Errorf("stage %d is not before this one (stage %d): a stage can only use earlier stages", n, cur)
		}
		return n, true, nil
	}
	lname := strings.ToLower(from)
	if j, ok := byName[lname]; ok {
		return j, true, nil
	}
	for j := cur; j < len(stages); j++ {
		if strings.EqualFold(stages[j].Name, from) {
			if j == cur {
				return 0, false, fmt.Errorf("stage %q refers to itself", from)
			}
			return 0, false, fmt.Errorf("stage %q is defined after this one (stage %d): move it earlier", from, j)
		}
	}
	if lname == "scratch" {
		return 0, false, fmt.Errorf("cannot copy from scratch: it has no files")
	}
	return 0, false, nil
}

// stageTriggers parses the ONBUILD instructions of stage j, which run in a
// stage built FROM it; errors point at that stage's FROM line (loc).
func stageTriggers(df *dockerfile.Dockerfile, j int, loc []parser.Range) ([]instructions.Command, error) {
	var out []instructions.Command
	for _, cmd := range df.Stages[j].Commands {
		ob, ok := cmd.(*instructions.OnbuildCommand)
		if !ok {
			continue
		}
		res, err := parser.Parse(strings.NewReader(ob.Expression))
		if err != nil {
			return nil, dockerfile.Errorf(df.File, loc, "ONBUILD trigger %q of stage %d: %v", ob.Expression, j, err)
		}
		for _, n := range res.AST.Children {
			c, err := instructions.ParseCommand(n)
			if err != nil {
				return nil, dockerfile.Errorf(df.File, loc, "ONBUILD trigger %q of stage %d: %v", ob.Expression, j, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func withDefaults(env *dockerfile.Env, defaults map[string]string) *dockerfile.Env {
	out := dockerfile.NewEnv(nil)
	keys := make([]string, 0, len(defaults))
	for k := range defaults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Set(k, defaults[k])
	}
	for _, kv := range env.List() {
		k, v, _ := strings.Cut(kv, "=")
		out.Set(k, v)
	}
	return out
}
