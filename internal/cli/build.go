package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/buildcontext"
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
	slimFlags    slimFlags     // --slim-probe, --slim-include...: strata slim's flags
	slim         *buildSlimmer // made by build when --slim-probe asks
	run          runSettingFlags
	contexts     []string
	isolation    string
	outputs      []string
	push         bool
	metadataFile string
	specs        []output.Spec // parsed from outputs and push
}

func newBuildCmd(g *globals) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [flags] CONTEXT|-|GIT-URL",
		Short: "Build an image from a Dockerfile",
		Example: `  strata build -t hello:single examples/hello
  strata build -t app --target builder --build-arg VERSION=1.2 .
  strata build -t app -f - . < Dockerfile.dev
  strata build -t app - < context.tar.gz       # a tar (plain, gzip, bzip2, xz, zstd) or a Dockerfile alone
  strata build -t app https://host/repo.git#v1.2:app

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
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil, "export the build cache: type=registry,ref=REF[,mode=min|max][,cache-mounts=true] or type=local,dest=DIR[,mode=max][,cache-mounts=true] (cache-mounts=true adds the RUN --mount=type=cache directories, which --cache-from restores); repeatable")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "import a build cache: type=registry,ref=REF or type=local,src=DIR; repeatable")
	fl.BoolVar(&f.squash, "squash", false, "merge the layers the Dockerfile adds into one; the base image's layers stay shared")
	fl.BoolVar(&f.squashAll, "squash-all", false, "make one layer of the whole image (CMD, ENV, ENTRYPOINT... kept)")
	cmd.MarkFlagsMutuallyExclusive("squash", "squash-all")
	fl.BoolVar(&f.reproduce, "reproducible", false, "make the image reproducible to the byte: times from $SOURCE_DATE_EPOCH (or --build-arg SOURCE_DATE_EPOCH), else the Unix epoch")
	// docker build's --rm and --force-rm remove the intermediate containers
	// of the legacy builder; strata, as BuildKit, never keeps any.
	fl.Bool("rm", true, "accepted for docker compatibility: no intermediate containers are kept")
	fl.Bool("force-rm", false, "accepted for docker compatibility: no intermediate containers are kept")
	f.run.add(fl)
	fl.StringArrayVar(&f.contexts, "build-context", nil, "a named context for FROM NAME, COPY --from=NAME and RUN --mount from=NAME (a stage of that name is replaced): NAME=DIR, NAME=docker-image://REF or NAME=GIT-URL; repeatable")
	addSnapshotterFlag(fl, &f.snapshotter)
	addIsolationFlag(fl, &f.isolation)
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "where the result goes (default type=image, the store): type=image|registry|local|tar|oci|docker[,dest=PATH][,name=NAME][,push=true][,compression=gzip|zstd|uncompressed][,compression-level=N][,force-compression=true][,tar=false]; a bare DIR is type=local,dest=DIR and - a tar of the files on stdout; repeatable")
	fl.BoolVar(&f.push, "push", false, "push the image to its -t names (shorthand for --output type=image,push=true)")
	fl.StringVar(&f.metadataFile, "metadata-file", "", "write the build's result as JSON (containerimage.digest, containerimage.config.digest, containerimage.descriptor, image.name) to this file")
	fl.BoolVar(&f.check, "check", false, "run the build checks (BuildKit's and strata's size rules, see strata check) and exit without building")
	addBuildSlimFlags(fl, &f.slimFlags)
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
		if st != nil && !done && mode != progress.ModeQuiet {
			// docker prints them after a failed build too; checks that
			// cannot run fail for the reason the build's error gives
			if text, cerr := buildWarnings(cmd.Context(), st, opts); cerr == nil {
				fmt.Fprint(cmd.ErrOrStderr(), text)
			}
		}
		return err
	}
	return f.report(cmd, st, &opts, res, mode, time.Since(start))
}

// build checks the flags, opens the store, fetches the context (stdin,
// git), runs the build checks (all of them and nothing else with --check:
// done) and builds.
func (f *buildFlags) build(cmd *cobra.Command, g *globals, sink progress.Sink, contextArg string) (res *solver.Result, opts solver.Options, st *store.Store, done bool, err error) {
	if f.specs, err = f.outputSpecs(cmd.OutOrStdout()); err != nil {
		return nil, opts, nil, false, err
	}
	if opts, err = f.options(); err != nil {
		return nil, opts, nil, false, err
	}
	if contextArg == buildcontext.Stdin && f.file == "-" {
		return nil, opts, nil, false, fmt.Errorf("the context and -f cannot both be stdin: give the context as a directory, or the Dockerfile inside the tar on stdin")
	}
	opts.Tags = storeNames(f.tags, f.specs)
	if st, err = g.openStore(); err != nil {
		return nil, opts, nil, false, err
	}
	tmp, err := st.TempDir("context-")
	if err != nil {
		return nil, opts, st, false, err
	}
	defer os.RemoveAll(tmp)
	if err := f.context(cmd, &opts, contextArg, tmp); err != nil {
		return nil, opts, st, false, err
	}
	if opts.NamedContexts, err = namedContexts(cmd.Context(), f.contexts, tmp); err != nil {
		return nil, opts, st, false, err
	}
	if done, err := checkBeforeBuild(cmd, st, f.check, opts, checkOptions(st, f.target, opts.BuildArgs, opts.ContextDir)); done || err != nil {
		return nil, opts, st, done, err
	}
	if f.slim, err = f.slimmer(st); err != nil {
		return nil, opts, st, false, err
	}
	if f.slim != nil {
		opts.Slimmer = f.slim
	}
	ro, err := registryOptions(nil)
	if err != nil {
		return nil, opts, st, false, err
	}
	opts.Puller = &registry.Puller{Dst: st, Options: ro}
	opts.CacheRegistry = ro
	opts.Progress = sink
	otmp, err := st.TempDir("output-")
	if err != nil {
		return nil, opts, st, false, err
	}
	defer os.RemoveAll(otmp)
	ro.TempDir, ro.Compressor = otmp, registry.NewCompressor(otmp)
	res, err = f.buildPushing(cmd, st, opts, ro)
	if err == nil && f.analyze && opts.DockerfileContent == nil && strings.HasPrefix(opts.DockerfilePath, tmp) {
		// --analyze reads the Dockerfile once tmp is gone.
		if opts.DockerfileContent, err = os.ReadFile(opts.DockerfilePath); err != nil {
			return nil, opts, st, false, fmt.Errorf("reading the Dockerfile for --analyze: %w", err)
		}
	}
	if err != nil {
		return nil, opts, st, false, err
	}
	return res, opts, st, false, f.export(cmd.Context(), st, cmd.OutOrStdout(), res, ro)
}

// options turns the flags into the solver's options (all but its sinks
// and its context).
func (f *buildFlags) options() (solver.Options, error) {
	opts := solver.Options{
		Version:       version,
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
	if err := f.run.apply(&opts); err != nil {
		return opts, err
	}
	var err error
	if opts.Snapshotter, err = snapshotterKind(f.snapshotter); err != nil {
		return opts, err
	}
	if opts.Isolation, err = isolation(f.isolation); err != nil {
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
	return opts, nil
}

// context sets where the context and the Dockerfile come from: a
// directory, stdin (a tar, or a Dockerfile alone) or a git repository,
// fetched into tmp; and -f, a path (inside a fetched context) or - (stdin).
func (f *buildFlags) context(cmd *cobra.Command, opts *solver.Options, contextArg, tmp string) error {
	stdin := cmd.InOrStdin()
	fetched, err := buildcontext.Fetch(cmd.Context(), contextArg, stdin, tmp)
	if err != nil {
		return err
	}
	opts.ContextDir, opts.ContextFetched = fetched.Dir, fetched.Remote
	if fetched.Dir == "" {
		if f.file != "" {
			return fmt.Errorf("-f %s: stdin held a Dockerfile, not a context tar; without a context there is no file to name", f.file)
		}
		opts.DockerfileContent, opts.DockerfileName = fetched.Dockerfile, "Dockerfile"
		return nil
	}
	switch {
	case f.file == "-":
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		opts.DockerfileContent, opts.DockerfileName = data, "Dockerfile"
	case f.file == "":
		opts.DockerfilePath, opts.DockerfileName = filepath.Join(fetched.Dir, "Dockerfile"), "Dockerfile"
	case fetched.Remote:
		// docker build: the Dockerfile of a fetched context is inside it.
		p, err := securejoin.SecureJoin(fetched.Dir, f.file)
		if err != nil {
			return fmt.Errorf("-f %s: %w", f.file, err)
		}
		opts.DockerfilePath, opts.DockerfileName = p, f.file
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
		if res.Steps > res.Cached { // a build that ran nothing spent nothing
			fmt.Fprintf(errw, "time spent (summed over steps): %s\n", res.Timings)
		}
		for _, n := range res.Names {
			fmt.Fprintf(errw, "naming to %s done\n", n)
		}
		text, err := buildWarnings(cmd.Context(), st, *opts)
		if err != nil {
			text = fmt.Sprintf("[Warning] the build checks did not run: %v\n", err)
		}
		fmt.Fprint(errw, text)
		if f.slim != nil && f.slim.res != nil {
			_, rec, err := st.Image(res.ImageID.String())
			if err != nil {
				return fmt.Errorf("sizing the slimmed image: %w", err)
			}
			printSlim(errw, "the built image", f.slim.before, rec.Size, f.slim.res)
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
