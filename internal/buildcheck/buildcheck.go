package buildcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"

	"github.com/strata-build/strata/internal/dockerfile"
)

// Options tunes Check. The zero value checks without base images and
// without a context directory.
type Options struct {
	// Target is the stage to check with the stages it needs; "" checks all
	// stages, as BuildKit does.
	Target string
	// BuildArgs are the --build-arg values (an ARG without a default and
	// without a value is what UndefinedVar and others look at).
	BuildArgs map[string]string
	// BaseConfig returns the config JSON of a base image (its ENV tells
	// UndefinedVar which variables exist); nil or (nil, nil) means unknown,
	// and the image is then checked as if it had an empty config. Check
	// never touches the network.
	BaseConfig func(ctx context.Context, ref string) ([]byte, error)
	// ContextDir is the build context, for the rules about COPY . and
	// .dockerignore; "" skips them.
	ContextDir string
	// SkipSizeRules runs BuildKit's checks alone, as a build does: strata's
	// size rules are for strata check and build --check.
	SkipSizeRules bool
}

// Source is where a rule comes from.
const (
	BuildKit = "buildkit"
	Strata   = "strata"
)

// Violation is one rule a Dockerfile breaks.
type Violation struct {
	// Rule is the rule's name: BuildKit's (StageNameCasing, ...) or
	// strata's.
	Rule string `json:"rule"`
	// Source says whose rule it is: "buildkit" or "strata".
	Source string `json:"source"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Fix says what to do (strata's rules).
	Fix string `json:"fix,omitempty"`
	// URL documents the rule (BuildKit's rules).
	URL string `json:"url,omitempty"`
	// SourceLine is the line of the earlier instruction that wrote the
	// files (DeletedLater, AddArchiveThenRemove, ChmodAfterCopy).
	SourceLine int `json:"sourceLine,omitempty"`
	// Bytes is what the rule cost in an earlier build (see Predict), 0 when
	// unknown.
	Bytes int64 `json:"bytes,omitempty"`
}

// Result is the outcome of Check.
type Result struct {
	Violations []Violation `json:"violations"`
	// ErrorOnViolation is true when the Dockerfile says # check=error=true.
	ErrorOnViolation bool `json:"errorOnViolation"`
	// Failed is true when violations must fail the build (error=true and at
	// least one violation).
	Failed bool `json:"failed"`
	// PredictedFrom names what the violations' bytes were measured on (an
	// image, or "build cache"); "" when they are in kind only.
	PredictedFrom string `json:"predictedFrom,omitempty"`
	// NotPredicted says why the violations are in kind only (the build
	// cache lacks a step), when a prediction was tried.
	NotPredicted string `json:"notPredicted,omitempty"`
}

// Check runs BuildKit's build checks and strata's size rules on the
// Dockerfile src named name. A Dockerfile that does not parse is an error
// with its file:line.
func Check(ctx context.Context, name string, src []byte, opts Options) (*Result, error) {
	df, err := dockerfile.Parse(name, src)
	if err != nil {
		return nil, err
	}
	directive, _, _, _ := parser.ParseDirective("check", src)
	cfg, err := linter.ParseLintOptions(directive)
	if err != nil {
		return nil, fmt.Errorf("%s:1: # check=%s: %w", name, directive, err)
	}
	res := &Result{ErrorOnViolation: cfg.ReturnAsError, Violations: []Violation{}}
	bk, err := buildkitChecks(ctx, name, src, opts, cfg.ReturnAsError)
	if err != nil {
		return nil, err
	}
	res.Violations = append(res.Violations, bk...)
	skip := map[string]bool{}
	for _, r := range cfg.SkipRules {
		skip[r] = true
	}
	if !cfg.SkipAll && !opts.SkipSizeRules {
		for _, v := range sizeRules(df, opts) {
			if !skip[v.Rule] {
				res.Violations = append(res.Violations, v)
			}
		}
	}
	sort.SliceStable(res.Violations, func(a, b int) bool { return res.Violations[a].Line < res.Violations[b].Line })
	res.Failed = res.ErrorOnViolation && len(res.Violations) > 0
	return res, nil
}

// buildkitChecks runs BuildKit's linter over src.
func buildkitChecks(ctx context.Context, name string, src []byte, opts Options, errorOnViolation bool) (_ []Violation, err error) {
	// The converter asks which LLB features the solver has (RUN --mount
	// does): every one, as strata's solver runs what the Dockerfile says.
	caps := pb.Caps.CapSet(pb.Caps.All())
	conv := dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{Target: opts.Target, BuildArgs: opts.BuildArgs},
		SourceMap:    &llb.SourceMap{Filename: name, Data: src, Definition: &llb.Definition{}},
		MetaResolver: resolver{opts.BaseConfig},
		LLBCaps:      &caps,
	}
	defer func() {
		// BuildKit's converter is not strata's code: a panic in it is an
		// error of the checks, never a crash of the build.
		if r := recover(); r != nil {
			err = fmt.Errorf("running the build checks: BuildKit's linter failed: %v", r)
		}
	}()
	res, err := dockerfile2llb.DockerfileLint(ctx, src, conv)
	if err != nil {
		return nil, fmt.Errorf("running the build checks: %w", err)
	}
	// With error=true, BuildKit's linter stops at the first violation with
	// an error naming the rules: the violations are the result, not an error.
	if res.Error != nil && !(errorOnViolation && len(res.Warnings) > 0) {
		line := 0
		if len(res.Error.Location.Ranges) > 0 {
			line = int(res.Error.Location.Ranges[0].Start.Line)
		}
		return nil, fmt.Errorf("%s:%d: %s", name, line, res.Error.Message)
	}
	var out []Violation
	for _, w := range res.Warnings {
		v := Violation{Rule: w.RuleName, Source: BuildKit, File: name, Message: w.Detail, URL: w.URL}
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			v.Line = int(w.Location.Ranges[0].Start.Line)
		}
		out = append(out, v)
	}
	return out, nil
}

// resolver answers BuildKit's base image lookups from the caller's
// BaseConfig, never from the network.
type resolver struct {
	config func(ctx context.Context, ref string) ([]byte, error)
}

func (r resolver) ResolveImageConfig(ctx context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	var cfg []byte
	if r.config != nil {
		c, err := r.config(ctx, ref)
		if err != nil {
			return "", "", nil, fmt.Errorf("reading the config of %s: %w", ref, err)
		}
		cfg = c
	}
	if cfg == nil {
		empty := map[string]any{"os": "linux", "architecture": runtime.GOARCH, "config": map[string]any{}}
		b, err := json.Marshal(empty)
		if err != nil {
			return "", "", nil, err
		}
		cfg = b
	}
	return ref, digest.FromBytes(cfg), cfg, nil
}
