package solver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/plan"
	"github.com/strata-build/strata/internal/procspec"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/snapshot"
	"github.com/strata-build/strata/internal/store"
)

// runArgs returns the argv of a RUN, heredocs and SHELL applied as BuildKit does.
func (sr *stageRun) runArgs(c *instructions.RunCommand) ([]string, error) {
	args := c.CmdLine
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return nil, fmt.Errorf("a heredoc needs the shell form of RUN")
		}
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			args = []string{data}
		} else {
			var sb strings.Builder
			sb.WriteString(args[0])
			for _, f := range c.Files {
				sb.WriteByte('\n')
				sb.WriteString(f.Data)
				sb.WriteString(f.Name)
			}
			args = []string{sb.String()}
		}
	}
	if c.PrependShell {
		args = sr.withShell(args)
	}
	return args, nil
}

// runHistory formats a RUN's created_by as BuildKit does ("|2 A=1 B=2 /bin/sh -c …").
func (sr *stageRun) runHistory(args []string) string {
	var pre []string
	idx := map[string]int{}
	for _, a := range sr.args {
		v, ok := sr.env.Get(a.Key)
		if !ok {
			v = a.ValueString()
		}
		if i, ok := idx[a.Key]; ok {
			pre[i] = a.Key + "=" + v
		} else {
			idx[a.Key] = len(pre)
			pre = append(pre, a.Key+"="+v)
		}
	}
	if len(pre) > 0 {
		pre = append([]string{fmt.Sprintf("|%d", len(pre))}, pre...)
	}
	return "RUN " + strings.Join(append(pre, args...), " ") + " # buildkit"
}

// dispatchRun handles RUN: it works out the step's argv, sandbox settings
// and cache key, and runs it in the sandbox through the step wrapper.
func (sr *stageRun) dispatchRun(ctx context.Context, c *instructions.RunCommand, name string) error {
	b := sr.b
	args, err := sr.runArgs(c)
	if err != nil {
		return err
	}
	security, err := b.runSecurity(c)
	if err != nil {
		return err
	}
	if err := sr.checkSecrets(c); err != nil {
		return err
	}
	if err := sr.checkSSH(c); err != nil {
		return err
	}
	if err := dockerfile.CheckRun(b.df.File, c); err != nil {
		return err
	}
	mk, err := sr.mountKey(ctx, c)
	if err != nil {
		return err
	}
	network, err := b.runNetwork(c)
	if err != nil {
		return err
	}
	key := sr.runKey(args, mk, runKeyOpts{network: network, security: security})
	r := runStep{c: c, args: args, network: network, security: security}
	return sr.doStep(ctx, fsStep{name: name, key: key, hist: sr.runHistory(args), tmpPfx: "run-",
		exec: func(ctx context.Context, id int, root snapshot.Mount) error {
			return sr.execRun(ctx, r, id, root)
		}})
}

// runStep is a RUN's settings once dispatchRun has checked them.
type runStep struct {
	c        *instructions.RunCommand
	args     []string
	network  string
	security string
}

// execRun runs a RUN's command in the sandbox, on root (the step's
// snapshot of the stage's layers).
func (sr *stageRun) execRun(ctx context.Context, r runStep, id int, root snapshot.Mount) error {
	b := sr.b
	lowers, err := b.lowerDirs(ctx, sr.s)
	if err != nil {
		return err
	}
	proc, err := procspec.Resolve(procspec.Spec{
		Layers:     lowers,
		Args:       r.args,
		Env:        sr.runEnv(),
		User:       sr.s.cfg.Config.User,
		WorkingDir: sr.s.cfg.Config.WorkingDir,
		Network:    r.network,
		HostsDir:   b.tmp,
		ExtraHosts: b.opts.ExtraHosts,
	})
	if err != nil {
		return err
	}
	out := progress.NewLineWriter(b.sink, id)
	spec := executor.RunSpec{
		Rootfs:     root, // volatile: commit syncs
		Args:       proc.Args,
		Env:        append(append(proc.Env, sr.secretEnv(r.c)...), sr.sshEnv(r.c)...), // never in the key or the history
		Dir:        proc.Dir,
		UID:        proc.UID,
		GID:        proc.GID,
		Groups:     proc.Groups,
		Network:    proc.Network,
		Hostname:   proc.Hostname,
		Stdout:     out,
		Stderr:     out,
		HostsFile:  proc.HostsFile,
		ResolvConf: proc.ResolvConf,
		Security:   r.security,
		ShmSize:    b.opts.ShmSize,
		Rlimits:    b.opts.Rlimits,
	}
	mounts, cleanup, err := sr.runMounts(ctx, r.c)
	if err != nil {
		return err
	}
	defer cleanup()
	secrets, cleanSecrets, err := sr.secretFiles(ctx, r.c)
	defer cleanSecrets()
	if err != nil {
		return err
	}
	spec.Mounts = append(mounts, secrets...)
	agents, stopAgents, err := sr.sshAgents(ctx, r.c)
	defer stopAgents()
	if err != nil {
		return err
	}
	spec.Mounts = append(spec.Mounts, agents...)
	code, err := b.exec.Run(ctx, spec)
	out.Flush()
	if err != nil {
		return fmt.Errorf("running the sandbox: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if code != 0 {
		return &exitError{code: code, msg: fmt.Sprintf("%s: exit code %d%s", strings.Join(r.args, " "), code, tailText(out.Tail()))}
	}
	return nil
}

// runEnv is the environment a RUN's command gets before procspec adds PATH
// and HOME: the stage's (what its key has) and the undeclared proxy build
// args (never in the key or the history).
func (sr *stageRun) runEnv() []string {
	b := sr.b
	env := sr.env.List()
	for _, k := range sortedKeys(b.opts.BuildArgs) {
		// The proxy ARGs reach every RUN without a declaration, as in
		// BuildKit, and stay out of the cache key and the history.
		if _, declared := sr.env.Get(k); plan.IsPredefinedArg(k) && !declared {
			env = append(env, k+"="+b.opts.BuildArgs[k])
		}
	}
	return env
}

// EntitlementSecurityInsecure is the --allow entitlement that lets a
// RUN --security=insecure run, as in BuildKit.
const EntitlementSecurityInsecure = "security.insecure"

// runSecurity returns the executor's security mode for a RUN: its
// --security flag, which must be allowed to be insecure.
func (b *builder) runSecurity(c *instructions.RunCommand) (string, error) {
	if instructions.GetSecurity(c) != instructions.SecurityInsecure {
		return executor.SecuritySandbox, nil
	}
	if !slices.Contains(b.opts.Allow, EntitlementSecurityInsecure) {
		return "", fmt.Errorf("--security=insecure needs the %s entitlement: pass --allow %s to strata build if you trust this Dockerfile", EntitlementSecurityInsecure, EntitlementSecurityInsecure)
	}
	return executor.SecurityInsecure, nil
}

func (b *builder) countStep(cached bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.steps++
	if cached {
		b.cached++
	}
}

// EntitlementNetworkHost is the --allow entitlement that lets a
// RUN --network=host reach the host's network in a build whose own
// network is none, as in BuildKit.
const EntitlementNetworkHost = "network.host"

// runNetwork returns the network a RUN runs in: its --network flag, or
// the build's --network for "default" (BuildKit's NetworkDefault). A RUN
// --network=host in a build run with --network none needs the
// network.host entitlement.
func (b *builder) runNetwork(c *instructions.RunCommand) (string, error) {
	n := instructions.GetNetwork(c)
	if n == "" || n == instructions.NetworkDefault {
		return b.opts.Network, nil
	}
	if n == instructions.NetworkHost && b.opts.Network != "host" && !slices.Contains(b.opts.Allow, EntitlementNetworkHost) {
		return "", fmt.Errorf("--network=host in a build with --network %s needs the %s entitlement: pass --allow %s to strata build if you trust this Dockerfile", b.opts.Network, EntitlementNetworkHost, EntitlementNetworkHost)
	}
	return n, nil
}

// commitOptions are the choices of commit.
type commitOptions struct {
	// Blob writes the layer's blob now: the stage reaches the image (or
	// --cache-to mode=max wants every layer).
	Blob bool
	// Key is the step's cache key, which names a layer made without a
	// blob.
	Key string
}

// commit turns an upper dir into a layer dir and, with opts.Blob, a layer
// blob, which gives its diff_id. Without, nothing is tarred or hashed: the
// layer is lazy, named by its cache key and a nonce (lazyLayer) until an image needs
// it, when ensureBlobs writes its blob and learns its diff_id.
func (b *builder) commit(ctx context.Context, s *state, upper string, co commitOptions) (layerInfo, *store.LayerDir, error) {
	if err := b.clamp(upper); err != nil {
		return layerInfo{}, nil, err
	}
	var l layerInfo
	var err error
	if !co.Blob {
		l, err = lazyLayer(co.Key)
	} else {
		l, err = b.writeLayer(ctx, upper)
	}
	if err != nil {
		return layerInfo{}, nil, err
	}
	diffIDs := append(append([]v1.Hash(nil), s.cfg.RootFS.DiffIDs...), l.DiffID)
	chains := store.ChainIDs(diffIDs)
	// The sandbox's overlay was volatile: the upper dir's files may still be
	// in the page cache only, and so may the blob; the store checks both
	// when next used after a reboot.
	start := time.Now()
	ld, err := b.st.AddUnsyncedLayerDir(chains[len(chains)-1], l.DiffID, upper)
	b.times.add(commitPart, start)
	if err != nil {
		return layerInfo{}, nil, fmt.Errorf("keeping the layer's files: %w", err)
	}
	return l, &ld, nil
}

// writeLayer writes the blob of upper, the layer dir a step made, and
// tells the build's layer sink.
func (b *builder) writeLayer(ctx context.Context, upper string) (layerInfo, error) {
	start := time.Now()
	h, size, err := b.st.WriteKeptLayerBlob(ctx, upper, layer.WriteOptions{Format: layer.DiffFormat, Clamp: b.opts.SourceDateEpoch}, nil)
	b.times.add(layerPart, start)
	if err != nil {
		return layerInfo{}, err
	}
	if b.opts.Layers != nil {
		b.opts.Layers.LayerWritten(h) // a push can start now
	}
	return layerInfo{Blob: h, Size: size, MediaType: types.OCIUncompressedLayer, DiffID: h}, nil
}

// clamp sets the mtimes in upper later than SOURCE_DATE_EPOCH, when the
// build has one, to it: the kept layer dir must hold what the tar holds
// (fsck compares).
func (b *builder) clamp(upper string) error {
	if epoch := b.opts.SourceDateEpoch; epoch != nil {
		if err := clampMtimes(upper, *epoch); err != nil {
			return fmt.Errorf("clamping mtimes to SOURCE_DATE_EPOCH: %w", err)
		}
	}
	return nil
}

// lazyLayer is the layer a step with cache key key made without a blob:
// its diff_id and blob are a stand-in derived from the key and a nonce (no
// tar hashes to it), which names its layer dir through the chain id, and
// Lazy marks them so. The nonce keeps a step run again (--no-cache, or a
// RUN whose output differs from run to run) from taking the dir an earlier
// run of the same key left: the cache record names the dir it made.
func lazyLayer(key string) (layerInfo, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return layerInfo{}, fmt.Errorf("naming the layer: %w", err)
	}
	h := v1.Hash{Algorithm: "sha256", Hex: hashKey("lazy-layer", key, hex.EncodeToString(nonce[:]))}
	return layerInfo{Blob: h, MediaType: types.OCIUncompressedLayer, DiffID: h, Lazy: true}, nil
}

// ensureBlobs writes the blob of every layer of s that the store lacks
// (layers of a stage that reached no image until now) from its layer dir,
// checking that it hashes to the layer's diff_id. A lazy layer's blob
// gives its diff_id, which replaces the stand-in in s.
func (b *builder) ensureBlobs(ctx context.Context, s *state) error {
	start := time.Now()
	defer b.times.add(layerPart, start)
	chains := store.ChainIDs(s.cfg.RootFS.DiffIDs) // the names of the dirs, before any lazy layer is resolved
	for i, l := range s.layers {
		if !l.Lazy && b.st.HasBlob(l.Blob) {
			continue
		}
		ld, ok := b.st.HasLayerDir(chains[i])
		if !ok {
			return fmt.Errorf("build: layer %s has neither a blob nor its files any more: build again with --no-cache", l.DiffID)
		}
		if !l.Lazy {
			if err := b.blobFromDir(ctx, ld.Path, l.Blob); err != nil {
				return err
			}
			continue
		}
		h, size, err := b.st.WriteKeptLayerBlob(ctx, ld.Path, layer.WriteOptions{Format: layer.DiffFormat, Clamp: b.opts.SourceDateEpoch}, nil)
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		s.layers[i] = layerInfo{Blob: h, Size: size, MediaType: types.OCIUncompressedLayer, DiffID: h}
		s.cfg.RootFS.DiffIDs[i] = h
	}
	return nil
}

// blobFromDir writes the layer tar of the layer dir dir as the blob want,
// failing if it does not hash to want.
func (b *builder) blobFromDir(ctx context.Context, dir string, want v1.Hash) error {
	if _, _, err := b.st.WriteKeptLayerBlob(ctx, dir, layer.WriteOptions{Format: layer.DiffFormat}, &want); err != nil {
		return fmt.Errorf("layer %s: %w", want, err)
	}
	return nil
}
