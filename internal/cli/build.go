package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-build/strata/internal/build"
	"github.com/strata-build/strata/internal/progress"
)

type buildFlags struct {
	tags        []string
	file        string
	buildArgs   []string
	labels      []string
	noCache     bool
	noCacheFilt []string
	network     string
	progress    string
	iidfile     string
	target      string
	jobs        int
	pull        bool
	quiet       bool
	allow       []string
	secrets     []string
	ssh         []string
	cacheTo     []string
	cacheFrom   []string
	squash      bool
	squashAll   bool
	analyze     bool
	reproduce   bool
}

func newBuildCmd(g *globals) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [flags] CONTEXT|-",
		Short: "Build an image from a Dockerfile",
		Example: `  strata build -t hello:single examples/hello
  strata build -t app --target builder --build-arg VERSION=1.2 .
  strata build -t app -f - . < Dockerfile.dev`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, g, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name and optionally a tag (name:tag); repeatable")
	fl.StringVarP(&f.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile; - for stdin)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "build-time variable KEY=VALUE (KEY alone takes it from the environment)")
	fl.StringArrayVar(&f.labels, "label", nil, "label KEY=VALUE added to the image")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the build cache")
	fl.StringArrayVar(&f.noCacheFilt, "no-cache-filter", nil, "do not use the cache for these stages")
	fl.StringVar(&f.network, "network", "host", "network for RUN: host or none")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto, tty, plain, json or quiet")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to this file")
	fl.StringVar(&f.target, "target", "", "build this stage (name or index) and tag it")
	fl.IntVar(&f.jobs, "jobs", 0, "stages built at once (default: every stage that is ready)")
	fl.BoolVar(&f.pull, "pull", false, "always look for a newer base image in its registry")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fl.StringArrayVar(&f.allow, "allow", nil, "grant an entitlement: security.insecure lets RUN --security=insecure run with every privilege (network.host lets RUN --network=host run in a --network none build)")
	fl.StringArrayVar(&f.secrets, "secret", nil, "secret for RUN --mount=type=secret: id=ID[,src=FILE|env=VAR] (id alone: env var ID if set, else file ID); repeatable")
	fl.StringArrayVar(&f.ssh, "ssh", nil, "SSH agent for RUN --mount=type=ssh: default or ID (the $SSH_AUTH_SOCK agent), or ID=SOCKET; repeatable")
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil, "export the build cache: type=registry,ref=REF[,mode=min|max] or type=local,dest=DIR[,mode=max]; repeatable")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "import a build cache: type=registry,ref=REF or type=local,src=DIR; repeatable")
	fl.BoolVar(&f.squash, "squash", false, "merge the layers the Dockerfile adds into one; the base image's layers stay shared")
	fl.BoolVar(&f.squashAll, "squash-all", false, "make one layer of the whole image (CMD, ENV, ENTRYPOINT... kept)")
	cmd.MarkFlagsMutuallyExclusive("squash", "squash-all")
	fl.BoolVar(&f.reproduce, "reproducible", false, "make the image reproducible to the byte: times from $SOURCE_DATE_EPOCH (or --build-arg SOURCE_DATE_EPOCH), else the Unix epoch")
	fl.BoolVar(&f.analyze, "analyze", false, "after the build, print where the image's bytes went and what would remove them (see strata analyze); with -q, on stderr")
	return cmd
}

func runBuild(cmd *cobra.Command, g *globals, f *buildFlags, contextArg string) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	opts := build.Options{
		Tags:          f.tags,
		Target:        f.target,
		NoCache:       f.noCache,
		NoCacheStages: f.noCacheFilt,
		Network:       f.network,
		Jobs:          f.jobs,
		Pull:          f.pull,
		Allow:         f.allow,
		Puller:        &storePuller{st: st},
		Squash:        f.squash,
		SquashAll:     f.squashAll,
	}
	for _, a := range f.allow {
		if a != build.EntitlementSecurityInsecure && a != "network.host" {
			return fmt.Errorf("--allow %q: unknown entitlement (want security.insecure or network.host)", a)
		}
	}
	opts.BuildArgs, err = parseKV(f.buildArgs, true)
	if err != nil {
		return fmt.Errorf("--build-arg: %w", err)
	}
	if opts.SourceDateEpoch, err = sourceDateEpoch(opts.BuildArgs, f.reproduce); err != nil {
		return err
	}
	opts.Labels, err = parseKV(f.labels, false)
	if err != nil {
		return fmt.Errorf("--label: %w", err)
	}
	if opts.Secrets, err = parseSecrets(f.secrets); err != nil {
		return err
	}
	if opts.SSH, err = parseSSH(f.ssh, os.Getenv); err != nil {
		return err
	}
	cacheTo, err := parseCacheSpecs("--cache-to", f.cacheTo, true)
	if err != nil {
		return err
	}
	for _, s := range cacheTo {
		// mode=max exports every stage's layers: keep a blob of each.
		opts.KeepLayerBlobs = opts.KeepLayerBlobs || s.Mode == "max"
	}
	cacheFrom, err := parseCacheSpecs("--cache-from", f.cacheFrom, false)
	if err != nil {
		return err
	}
	switch {
	case contextArg == "-":
		if f.file == "-" {
			return fmt.Errorf("the context and -f cannot both be stdin")
		}
		data, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		opts.DockerfileContent, opts.DockerfileName = data, "Dockerfile"
	default:
		fi, err := os.Stat(contextArg)
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("the build context %q is not a directory", contextArg)
		}
		opts.ContextDir = contextArg
		switch f.file {
		case "":
			opts.DockerfilePath = filepath.Join(contextArg, "Dockerfile")
			opts.DockerfileName = "Dockerfile"
		case "-":
			data, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("reading the Dockerfile from stdin: %w", err)
			}
			opts.DockerfileContent, opts.DockerfileName = data, "Dockerfile"
		default:
			opts.DockerfilePath, opts.DockerfileName = f.file, f.file
		}
	}
	errw := cmd.ErrOrStderr()
	mode := f.progress
	if f.quiet {
		mode = "quiet"
	}
	if mode == "auto" {
		mode = "plain"
		if file, ok := errw.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
			mode = "tty"
		}
	}
	switch mode {
	case "tty":
		width := 80
		if file, ok := errw.(*os.File); ok {
			if w, _, err := term.GetSize(int(file.Fd())); err == nil {
				width = w
			}
		}
		opts.Progress = progress.NewTTY(errw, width)
	case "plain":
		opts.Progress = progress.NewPlain(errw)
	case "json":
		opts.Progress = progress.NewJSON(errw)
	case "quiet":
		opts.Progress = progress.Discard{}
	default:
		return fmt.Errorf("--progress %q: use auto, tty, plain, json or quiet", f.progress)
	}
	start := time.Now()
	importers := openCaches(cmd.Context(), st, cacheFrom, opts.Progress)
	for _, im := range importers {
		opts.CacheFrom = append(opts.CacheFrom, im)
	}
	res, err := build.Build(cmd.Context(), st, opts)
	if err != nil {
		return err
	}
	reportImports(importers, opts.Progress)
	if err := exportCaches(cmd.Context(), st, res, cacheTo, opts.Progress); err != nil {
		return err
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(res.ImageID.String()), 0o644); err != nil {
			return fmt.Errorf("writing --iidfile: %w", err)
		}
	}
	out := cmd.OutOrStdout()
	if f.quiet {
		// stdout holds the image ID alone, as -q promises; an analysis
		// asked for goes to stderr.
		fmt.Fprintln(out, res.ImageID.String())
		out = errw
	} else if mode != "json" {
		steps := "steps"
		if res.Steps == 1 {
			steps = "step"
		}
		fmt.Fprintf(errw, "writing image %s done (%d %s, %d cached, %.1fs in all)\n", res.ImageID, res.Steps, steps, res.Cached, time.Since(start).Seconds())
		for _, n := range res.Names {
			fmt.Fprintf(errw, "naming to %s done\n", n)
		}
	}
	if f.analyze {
		src := opts.DockerfileContent
		if src == nil {
			if src, err = os.ReadFile(opts.DockerfilePath); err != nil {
				return fmt.Errorf("reading the Dockerfile for --analyze: %w", err)
			}
		}
		return analyzeAfterBuild(cmd.Context(), out, st, res.ImageID.String(), opts.DockerfileName, src, f.target)
	}
	return nil
}

// parseKV parses KEY=VALUE flags; with fromEnv, a bare KEY takes its value
// from the environment (and is dropped when unset), as docker does.
func parseKV(list []string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%q: want KEY=VALUE", kv)
		}
		if !ok {
			if !fromEnv {
				out[k] = ""
				continue
			}
			ev, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = ev
		}
		out[k] = v
	}
	return out, nil
}

// sourceDateEpoch returns the time a reproducible build stamps: the
// SOURCE_DATE_EPOCH build arg, else the variable of that name, else with
// --reproducible the Unix epoch; nil when the build is not reproducible.
func sourceDateEpoch(buildArgs map[string]string, reproducible bool) (*time.Time, error) {
	v, ok := buildArgs["SOURCE_DATE_EPOCH"]
	if !ok {
		v, ok = os.LookupEnv("SOURCE_DATE_EPOCH")
	}
	if !ok || v == "" {
		if !reproducible {
			return nil, nil
		}
		v = "0"
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH %q: want whole seconds since 1970-01-01 UTC, such as $(git log -1 --format=%%ct)", v)
	}
	t := time.Unix(secs, 0).UTC()
	return &t, nil
}
