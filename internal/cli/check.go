package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/analyze"
	"github.com/strata-build/strata/internal/buildcheck"
	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/solver"
	"github.com/strata-build/strata/internal/store"
)

type checkFlags struct {
	file      string
	target    string
	buildArgs []string
	json      bool
	image     string
}

func newCheckCmd(g *globals) *cobra.Command {
	f := &checkFlags{}
	cmd := &cobra.Command{
		Use:   "check [-f FILE] [CONTEXT]",
		Short: "Check a Dockerfile without building it: BuildKit's build checks and strata's size rules",
		Long: `check runs BuildKit's build checks (StageNameCasing, FromAsCasing,
UndefinedVar, JSONArgsRecommended, ...: the rules of docker build --check, by
BuildKit's own linter) and strata's size rules, which predict waste and name the
fix (apt-get install without --no-install-recommends or leaving the lists, a
later RUN deleting what an earlier one added, chmod/chown after COPY, ADD of an
archive then rm, pip/npm/go caches left, compilers in the final stage, COPY .
without a .dockerignore). It prints one line per violation, FILE:LINE first,
and exits with status 1 when there is any.

The Dockerfile's "# check=skip=RULE,...|all;error=true" directive applies to
both sets; with error=true, strata build fails on any violation, as BuildKit
does. Base images are looked up in the local store only (their ENV matters to
UndefinedVar); an image not there is checked as if its config were empty.

When the build cache holds every step of the Dockerfile (an earlier build
of the same steps, looked up under the keys strata build computes, without
running anything), each size rule's violation also says how many bytes it
wastes there (analyze's finding at the same line, measured on the cached
layers); otherwise the prediction is in kind. --image names an earlier build
to measure instead.`,
		Example: `  strata check examples/hello
  strata check -f build/Dockerfile.prod .
  strata check --json . | jq '.violations[].rule'
  strata check -f Dockerfile.rm --image hello:rm .`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			contextDir := "."
			if len(args) == 1 {
				contextDir = args[0]
			}
			st, err := g.openStore()
			if err != nil {
				return err
			}
			bargs, err := parseKV(f.buildArgs, true)
			if err != nil {
				return fmt.Errorf("--build-arg: %w", err)
			}
			name, path := f.file, f.file
			if f.file == "" {
				name, path = "Dockerfile", filepath.Join(contextDir, "Dockerfile")
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("reading the Dockerfile: %w", err)
			}
			build := solver.Options{ContextDir: contextDir, DockerfilePath: path, DockerfileName: name, BuildArgs: bargs, Target: f.target}
			return runCheck(cmd, st, name, src, checkOptions(st, f.target, bargs, contextDir), checkOutput{json: f.json, image: f.image, build: build})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile)")
	fl.StringVar(&f.target, "target", "", "check this stage and the stages it needs (default all)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "build-time variable KEY=VALUE, as for build")
	fl.BoolVar(&f.json, "json", false, "print the violations as JSON")
	fl.StringVar(&f.image, "image", "", "an earlier build of this Dockerfile: each size rule's violation then says how many bytes it wasted there")
	return cmd
}

// checkOptions returns buildcheck's options with base images read from st.
func checkOptions(st *store.Store, target string, buildArgs map[string]string, contextDir string) buildcheck.Options {
	return buildcheck.Options{
		Target:     target,
		BuildArgs:  buildArgs,
		ContextDir: contextDir,
		BaseConfig: func(ctx context.Context, ref string) ([]byte, error) {
			img, _, err := st.Image(ref)
			if err != nil {
				return nil, nil // not in the store: checked with an empty config
			}
			return img.RawConfigFile()
		},
	}
}

// checkOutput says how runCheck prints, and from which earlier build it
// predicts bytes.
type checkOutput struct {
	json  bool
	image string // an image to measure; "" for the build cache
	// build is the build checked, whose steps are looked up in the build
	// cache when image is "".
	build solver.Options
}

// runCheck checks src, prints the violations and returns exit status 1
// when there is any.
func runCheck(cmd *cobra.Command, st *store.Store, name string, src []byte, opts buildcheck.Options, o checkOutput) error {
	res, err := buildcheck.Check(cmd.Context(), name, src, opts)
	if err != nil {
		return err
	}
	if err := predict(cmd, st, name, src, res, o); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.json {
		if err := writeJSON(out, res); err != nil {
			return err
		}
	} else {
		printViolations(out, res)
	}
	if len(res.Violations) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// printViolations writes one line per violation and a summary.
func printViolations(w io.Writer, res *buildcheck.Result) {
	for _, v := range res.Violations {
		line := fmt.Sprintf("%s:%d: %s: %s", v.File, v.Line, v.Rule, v.Message)
		if v.Fix != "" {
			line += ". Fix: " + v.Fix
		}
		if v.URL != "" {
			line += " (" + v.URL + ")"
		}
		fmt.Fprintln(w, line)
	}
	if len(res.Violations) == 0 {
		fmt.Fprintln(w, "check: no violations")
		return
	}
	fmt.Fprintf(w, "check: %d %s\n", len(res.Violations), map[bool]string{true: "violation", false: "violations"}[len(res.Violations) == 1])
	switch {
	case res.PredictedFrom == "build cache":
		fmt.Fprintln(w, "check: bytes measured on the layers the build cache holds for these steps")
	case res.PredictedFrom != "":
		fmt.Fprintf(w, "check: bytes measured on %s\n", res.PredictedFrom)
	case res.NotPredicted != "":
		fmt.Fprintf(w, "check: no bytes predicted, %s: build once, then check again\n", res.NotPredicted)
	}
}

// checkBeforeBuild runs the checks a build asks for: all of them with
// --check (then the build stops: done), and BuildKit's before any build
// whose Dockerfile says # check=error=true, failing it on a violation.
func checkBeforeBuild(cmd *cobra.Command, st *store.Store, check bool, build solver.Options, opts buildcheck.Options) (done bool, err error) {
	name, src := build.DockerfileName, dockerfileSource(build)
	if src == nil {
		return false, nil
	}
	if check {
		return true, runCheck(cmd, st, name, src, opts, checkOutput{build: build})
	}
	directive, _, _, _ := parser.ParseDirective("check", src)
	cfg, err := linter.ParseLintOptions(directive)
	if err != nil || !cfg.ReturnAsError {
		return false, nil // a bad directive is the build's error to report, at its line
	}
	opts.SkipSizeRules = true // error=true is about BuildKit's rules, as in docker build
	res, err := buildcheck.Check(cmd.Context(), name, src, opts)
	if err != nil {
		return true, err
	}
	if res.Failed {
		printViolations(cmd.ErrOrStderr(), res)
		return true, fmt.Errorf("%s: %d build check %s and the Dockerfile says # check=error=true: fix them, or skip the rules with # check=skip=RULE",
			name, len(res.Violations), map[bool]string{true: "violation", false: "violations"}[len(res.Violations) == 1])
	}
	return false, nil
}

// dockerfileSource returns the Dockerfile a build reads, nil when it cannot
// be read (the build then says why).
func dockerfileSource(opts solver.Options) []byte {
	if opts.DockerfileContent != nil {
		return opts.DockerfileContent
	}
	src, err := os.ReadFile(opts.DockerfilePath)
	if err != nil {
		return nil
	}
	return src
}

// predict puts bytes on the size rules' violations of res: from the image
// o names, else from the image the build cache holds for o.build's steps
// (solver.Plan). When the cache lacks a step the violations stay in kind,
// and res says which step.
func predict(cmd *cobra.Command, st *store.Store, name string, src []byte, res *buildcheck.Result, o checkOutput) error {
	df, err := dockerfile.Parse(name, src)
	if err != nil {
		return err
	}
	aopts := analyze.Options{Dockerfile: df, Target: o.build.Target, Compression: layer.Uncompressed}
	if o.image != "" {
		rep, err := analyzeImage(cmd.Context(), st, o.image, aopts)
		if err != nil {
			return fmt.Errorf("--image: %w", err)
		}
		buildcheck.Predict(res, rep)
		res.PredictedFrom = o.image
		return nil
	}
	unlock, err := st.RLock()
	if err != nil {
		return err
	}
	defer unlock()
	pr, err := solver.Plan(cmd.Context(), st, o.build)
	if err != nil {
		// the build would fail the same way: the checks stand, in kind
		res.NotPredicted = fmt.Sprintf("looking the steps up in the build cache: %v", err)
		return nil
	}
	if pr.Image == nil {
		res.NotPredicted = "the build cache lacks " + pr.Missing
		return nil
	}
	rep, err := analyze.Analyze(cmd.Context(), pr.Image, aopts)
	if err != nil {
		return fmt.Errorf("measuring the cached layers: %w", err)
	}
	buildcheck.Predict(res, rep)
	res.PredictedFrom = "build cache"
	return nil
}

// buildWarnings returns BuildKit's check warnings on the Dockerfile a
// build read, as docker build prints them after a build: "N warnings
// found", then one line per warning in BuildKit's short form (RULE: MESSAGE
// (line N)); "" when there is none. strata's size rules are left to strata
// check and build --check.
func buildWarnings(ctx context.Context, st *store.Store, build solver.Options) (string, error) {
	src := dockerfileSource(build)
	if src == nil {
		return "", nil
	}
	opts := checkOptions(st, build.Target, build.BuildArgs, build.ContextDir)
	opts.SkipSizeRules = true
	res, err := buildcheck.Check(ctx, build.DockerfileName, src, opts)
	if err != nil {
		return "", err
	}
	n := len(res.Violations)
	if n == 0 {
		return "", nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n %d %s found (use strata check to expand):\n", n, map[bool]string{true: "warning", false: "warnings"}[n == 1])
	for _, v := range res.Violations {
		fmt.Fprintf(&sb, " - %s\n", linter.LintFormatShort(v.Rule, v.Message, v.Line))
	}
	return sb.String(), nil
}
