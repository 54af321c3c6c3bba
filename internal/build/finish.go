package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/executor"
)

// finish turns the target stage's state into the image to store.
func (b *builder) finish(ctx context.Context, s *state) (v1.Image, error) {
	if err := b.ensureBlobs(ctx, s); err != nil {
		return nil, err
	}
	s = s.clone()
	if len(b.opts.Labels) > 0 {
		if s.cfg.Config.Labels == nil {
			s.cfg.Config.Labels = map[string]string{}
		}
		for _, k := range sortedKeys(b.opts.Labels) {
			s.cfg.Config.Labels[k] = b.opts.Labels[k]
		}
	}
	created := b.now()
	if n := len(s.cfg.History); n > 0 && !s.cfg.History[n-1].Created.IsZero() {
		created = s.cfg.History[n-1].Created.Time
	}
	s.cfg.Created = v1.Time{Time: created}
	layers := 0
	for _, h := range s.cfg.History {
		if !h.EmptyLayer {
			layers++
		}
	}
	if layers != len(s.cfg.RootFS.DiffIDs) && len(s.cfg.History) > 0 {
		// A base image whose history does not match its layers: keep going,
		// as docker does, but never write a mismatch we made ourselves.
		base := len(s.cfg.RootFS.DiffIDs) - layers
		if base < 0 {
			return nil, fmt.Errorf("build: internal error: %d history entries with layers for %d layers", layers, len(s.cfg.RootFS.DiffIDs))
		}
	}
	return s.image(b.st)
}

// runMounts prepares the RUN --mount flags of c.
func (sr *stageRun) runMounts(ctx context.Context, c *instructions.RunCommand) ([]executor.Mount, func(), error) {
	var mounts []executor.Mount
	cleanup := func() {}
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if !strings.HasPrefix(target, "/") {
			target = sr.resolvePath(target)
		}
		switch m.Type {
		case instructions.MountTypeSecret:
			continue // secretFiles mounts them
		case instructions.MountTypeTmpfs:
			mounts = append(mounts, executor.Mount{Type: "tmpfs", Target: target})
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = target
			}
			dir := filepath.Join(sr.b.st.Root(), "cachemounts", hashKey("cache", id)[:32])
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, cleanup, fmt.Errorf("--mount=type=cache: %w", err)
			}
			mounts = append(mounts, executor.Mount{Type: "bind", Source: dir, Target: target, ReadOnly: m.ReadOnly})
		case instructions.MountTypeBind:
			if m.From == "" {
				if sr.b.bctx == nil {
					return nil, cleanup, fmt.Errorf("--mount=type=bind: no build context")
				}
				src, err := sr.b.bctx.Resolve(m.Source)
				if err != nil {
					return nil, cleanup, fmt.Errorf("--mount=type=bind,source=%s: %w", m.Source, err)
				}
				mounts = append(mounts, executor.Mount{Type: "bind", Source: src, Target: target, ReadOnly: true})
				continue
			}
			from, err := sr.b.df.Expand(sr.lex, nil, m.From, sr.b.plan.MetaArgs)
			if err != nil {
				return nil, cleanup, err
			}
			src, err := sr.fromState(ctx, from)
			if err != nil {
				return nil, cleanup, err
			}
			lowers, err := sr.b.lowerDirs(ctx, src)
			if err != nil {
				return nil, cleanup, err
			}
			mnt, done, err := sr.b.fromMount(ctx, lowers, target, m.ReadOnly)
			prev := cleanup
			cleanup = func() { prev(); done() }
			if err != nil {
				return nil, cleanup, err
			}
			if m.Source != "" && m.Source != "/" && m.Source != "." {
				return nil, cleanup, fmt.Errorf("--mount=type=bind,from=%s,source=%s: only the whole stage (source=/) can be mounted", m.From, m.Source)
			}
			mounts = append(mounts, mnt)
		default:
			return nil, cleanup, fmt.Errorf("--mount=type=%s is not supported yet", m.Type)
		}
	}
	return mounts, cleanup, nil
}
