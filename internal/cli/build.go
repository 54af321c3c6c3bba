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

	"github.com/strata-build/strata/internal/output"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/solver"
	"github.com/strata-build/strata/internal/store"
)

type buildFlags struct {
	tags         []string
	file         string
	buildArgs    []string
	labels       []string
	noCache      bool
	noCacheFilt  []string
	network      string
	progress     string
	iidfile      string
	target       string
	jobs         int
	pull         bool
	quiet        bool
	allow        []string
	secrets      []string
	ssh          []string
	cacheTo      []string
	cacheFrom    []string
	squash       bool
	squashAll    bool
	analyze      bool
	check        bool
	reproduce    bool
	snapshotter  string
	outputs      []string
	push         bool
	metadataFile string
	specs        []output.Spec // parsed from outputs and push
}

func newBuildCmd(g *globals) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [flags] CONTEXT|-",
		Short: "Build an image from a Dockerfile",
		Example: `  strata build -t hello:single examples/hello
  strata build -t app --target builder --build-arg VERSION=1.2 .
  strata build -t app -f - . < Dockerfile.dev
  strata build -t registry.lan:5000/app:1 -o type=registry,compression=zstd .
  strata build -o type=local,dest=out .
  strata build -t app:1 -o type=oci,dest=app.tar --metadata-file meta.json .`,
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
	// docker build's --rm and --force-rm remove the intermediate containers
	// of the legacy builder; strata, as BuildKit, never keeps any.
	fl.Bool("rm", true, "accepted for docker compatibility: no intermediate containers are kept")
	fl.Bool("force-rm", false, "accepted for docker compatibility: no intermediate containers are kept")
	addSnapshotterFlag(fl, &f.snapshotter)
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "where the result goes (default type=image, the store): type=image|registry|local|tar|oci|docker[,dest=PATH][,name=NAME][,push=true][,compression=gzip|zstd|uncompressed][,compression-level=N][,force-compression=true][,tar=false]; a bare DIR is type=local,dest=DIR and - a tar of the files on stdout; repeatable")
	fl.BoolVar(&f.push, "push", false, "push the image to its -t names (shorthand for --output type=image,push=true)")
	fl.StringVar(&f.metadataFile, "metadata-file", "", "write the build's result as JSON (containerimage.digest, containerimage.config.digest, containerimage.descriptor, image.name) to this file")
	fl.BoolVar(&f.check, "check", false, "run the build checks (BuildKit's and strata's size rules, see strata check) and exit without building")
	fl.BoolVar(&f.analyze, "analyze", false, "after the build, print where the image's bytes went and what would remove them (see strata analyze); with -q, on stderr")
	return cmd
}

func runBuild(cmd *cobra.Command, g *globals, f *buildFlags, contextArg string) error {
	mode := progress.Mode(f.progress)
	if f.quiet {
		mode = progress.ModeQuiet
	}
	sink, mode, err := progress.NewSink(cmd.ErrOrStderr(), mode)
	if err != nil {
		return fmt.Errorf("--progress: %w", err)
	}
	start := time.Now()
	res, opts, st, done, err := f.build(cmd, g, sink, contextArg)
	if done && err == nil {
		// --check: the checks ran and printed; nothing was built.
		return nil
	}
	if mode == progress.ModeJSON {
		// The stream ends with one result or one error event, and holds
		// nothing but JSON.
		if err != nil {
			sink.Event(progress.Event{Status: progress.Failed, Err: err.Error(), Time: time.Now()})
			return &exitError{code: exitCode(err)}
		}
		sink.Event(progress.Event{Status: progress.Result, ImageID: res.ImageID.String(), Tags: res.Names, Elapsed: time.Since(start), Time: time.Now()})
	}
	if err != nil {
		return err
	}
	return f.report(cmd, st, &opts, res, mode, time.Since(start))
}

// build checks the flags, opens the store, runs the build checks (all of
// them and nothing else with --check: done) and builds.
func (f *buildFlags) build(cmd *cobra.Command, g *globals, sink progress.Sink, contextArg string) (res *solver.Result, opts solver.Options, st *store.Store, done bool, err error) {
	if f.specs, err = f.outputSpecs(cmd.OutOrStdout()); err != nil {
		return nil, opts, nil, false, err
	}
	if opts, err = f.options(cmd.InOrStdin(), contextArg); err != nil {
		return nil, opts, nil, false, err
	}
	opts.Tags = storeNames(f.tags, f.specs)
	if st, err = g.openStore(); err != nil {
		return nil, opts, nil, false, err
	}
	if done, err := checkBeforeBuild(cmd, st, f.check, opts.DockerfileName, dockerfileSource(opts), checkOptions(st, f.target, opts.BuildArgs, opts.ContextDir)); done || err != nil {
		return nil, opts, st, done, err
	}
	opts.Puller = &registry.Puller{Dst: st}
	opts.Progress = sink
	tmp, err := st.TempDir("output-")
	if err != nil {
		return nil, opts, st, false, err
	}
	defer os.RemoveAll(tmp)
	ro := registry.Options{TempDir: tmp, Compressor: registry.NewCompressor(tmp)}
	res, err = f.buildPushing(cmd, st, opts, ro)
	if err != nil {
		return nil, opts, st, false, err
	}
	return res, opts, st, false, f.export(cmd.Context(), st, cmd.OutOrStdout(), res, ro)
}

// options turns the flags into the solver's options (all but its sinks).
func (f *buildFlags) options(stdin io.Reader, contextArg string) (solver.Options, error) {
	opts := solver.Options{
		Tags:          f.tags,
		Target:        f.target,
		NoCache:       f.noCache,
		NoCacheStages: f.noCacheFilt,
		Network:       f.network,
		Jobs:          f.jobs,
		Pull:          f.pull,
		Allow:         f.allow,
		Squash:        f.squash,
		SquashAll:     f.squashAll,
	}
	for _, a := range f.allow {
		if a != solver.EntitlementSecurityInsecure && a != "network.host" {
			return opts, fmt.Errorf("--allow %q: unknown entitlement (want security.insecure or network.host)", a)
		}
	}
	// Every name is checked before a step runs: a bad -t must not cost a build.
	for _, t := range f.tags {
		if _, err := store.Normalize(t); err != nil {
			return opts, fmt.Errorf("-t, --tag: %w", err)
		}
	}
	var err error
	if opts.Snapshotter, err = snapshotterKind(f.snapshotter); err != nil {
		return opts, err
	}
	if opts.BuildArgs, err = parseKV(f.buildArgs, true); err != nil {
		return opts, fmt.Errorf("--build-arg: %w", err)
	}
	if opts.SourceDateEpoch, err = sourceDateEpoch(opts.BuildArgs, f.reproduce); err != nil {
		return opts, err
	}
	if opts.Labels, err = parseKV(f.labels, false); err != nil {
		return opts, fmt.Errorf("--label: %w", err)
	}
	if opts.Secrets, err = parseSecrets(f.secrets); err != nil {
		return opts, err
	}
	if opts.SSH, err = parseSSH(f.ssh, os.Getenv); err != nil {
		return opts, err
	}
	if opts.CacheExports, err = parseCacheSpecs("--cache-to", f.cacheTo, true); err != nil {
		return opts, err
	}
	if opts.CacheImports, err = parseCacheSpecs("--cache-from", f.cacheFrom, false); err != nil {
		return opts, err
	}
	return opts, f.dockerfile(&opts, stdin, contextArg)
}

// dockerfile sets where the context and the Dockerfile come from: a
// directory, or stdin (the context "-" or -f -).
func (f *buildFlags) dockerfile(opts *solver.Options, stdin io.Reader, contextArg string) error {
	fromStdin := func() error {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		opts.DockerfileContent, opts.DockerfileName = data, "Dockerfile"
		return nil
	}
	if contextArg == "-" {
		if f.file == "-" {
			return fmt.Errorf("the context and -f cannot both be stdin")
		}
		return fromStdin()
	}
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
		return fromStdin()
	default:
		opts.DockerfilePath, opts.DockerfileName = f.file, f.file
	}
	return nil
}

// report writes --iidfile, prints what the build made, as docker build
// does, and with --analyze the analysis.
func (f *buildFlags) report(cmd *cobra.Command, st *store.Store, opts *solver.Options, res *solver.Result, mode progress.Mode, took time.Duration) error {
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(res.ImageID.String()), 0o644); err != nil {
			return fmt.Errorf("writing --iidfile: %w", err)
		}
	}
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.quiet {
		// stdout holds the image ID alone, as -q promises; an analysis
		// asked for goes to stderr.
		fmt.Fprintln(out, res.ImageID.String())
		out = errw
	} else if mode != progress.ModeJSON {
		steps := "steps"
		if res.Steps == 1 {
			steps = "step"
		}
		fmt.Fprintf(errw, "writing image %s done (%d %s, %d cached, %.1fs in all)\n", res.ImageID, res.Steps, steps, res.Cached, took.Seconds())
		for _, n := range res.Names {
			fmt.Fprintf(errw, "naming to %s done\n", n)
		}
		f.reportOutputs(errw)
	}
	if !f.analyze {
		return nil
	}
	src := opts.DockerfileContent
	if src == nil {
		var err error
		if src, err = os.ReadFile(opts.DockerfilePath); err != nil {
			return fmt.Errorf("reading the Dockerfile for --analyze: %w", err)
		}
	}
	return analyzeAfterBuild(cmd.Context(), out, st, res.ImageID.String(), opts.DockerfileName, src, f.target)
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
