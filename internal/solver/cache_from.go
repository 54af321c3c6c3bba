package solver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/fscopy"
)

// fromCacheDir returns the cache dir of a cache mount with from= or
// source=, as BuildKit gives them: with from=, a cache of its own for
// (id, the stage or image's state, source), filled when it is made with
// the files of source= (default "/") of from=; with source= alone, the
// source= subdirectory of the cache dir of id, made when missing.
func (sr *stageRun) fromCacheDir(ctx context.Context, m *instructions.Mount, target string) (string, error) {
	if m.From == "" {
		dir, err := sr.cacheDir(m, target)
		if err != nil {
			return "", err
		}
		// a RUN may have left symlinks in the cache: resolve inside it
		sub, err := securejoin.SecureJoin(dir, m.Source)
		if err != nil {
			return "", fmt.Errorf("--mount=type=cache,source=%s: %w", m.Source, err)
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return "", fmt.Errorf("--mount=type=cache,source=%s: %w", m.Source, err)
		}
		return sub, nil
	}
	b := sr.b
	from, err := b.df.Expand(sr.lex, nil, m.From, b.plan.MetaArgs)
	if err != nil {
		return "", err
	}
	src, err := sr.fromState(ctx, from)
	if err != nil {
		return "", err
	}
	id := m.CacheID
	if id == "" {
		id = target
	}
	source := path.Clean("/" + m.Source)
	parent := filepath.Join(b.st.Root(), "cachemounts")
	dir := filepath.Join(parent, hashKey("cache", id, "from:"+src.key, source)[:32])
	if _, err := os.Lstat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("--mount=type=cache: %w", err)
	}
	upper, remove, err := sr.seedCache(ctx, src, source)
	defer remove()
	if err != nil {
		return "", fmt.Errorf("--mount=type=cache,from=%s,source=%s: %w", from, source, err)
	}
	if err := setCacheOwner(upper, m); err != nil {
		return "", err
	}
	if err := os.Rename(upper, dir); err != nil && !os.IsExist(err) && !errors.Is(err, syscall.ENOTEMPTY) {
		return "", fmt.Errorf("--mount=type=cache: %w", err)
	}
	return dir, nil
}

// seedCache copies the directory source of the state src, owners kept,
// into a fresh snapshot (by the sandboxed copy op, which mounts a view of
// src's layers) and returns the committed directory; remove removes the
// snapshot (and that directory, unless the caller moved it).
func (sr *stageRun) seedCache(ctx context.Context, src *state, source string) (dir string, remove func(), err error) {
	b := sr.b
	remove = func() {}
	lowers, err := b.lowerDirs(ctx, src)
	if err != nil {
		return "", remove, err
	}
	if len(lowers) == 0 {
		return "", remove, fmt.Errorf("the stage or image is empty: it has no %s", source)
	}
	arg := copyArg{SrcLowers: lowers, Action: fscopy.Action{Dest: "/", KeepOwner: true,
		Sources: []fscopy.Source{{Rel: strings.TrimPrefix(source, "/") + "/."}}}}
	if source == "/" {
		arg.Action.Sources = []fscopy.Source{{Rel: "."}}
	}
	removeView, err := b.sourceView(ctx, &arg)
	defer removeView()
	if err != nil {
		return "", remove, err
	}
	raw, err := json.Marshal(arg)
	if err != nil {
		return "", remove, err
	}
	snap, err := b.snap.Prepare(ctx, nil)
	if err != nil {
		return "", remove, err
	}
	remove = func() { b.snap.Remove(snap) }
	err = b.exec.Do(ctx, executor.DoSpec{
		Rootfs: snap.Mount(),
		Op:     opCopy,
		Arg:    raw,
		Stdout: io.Discard,
		Stderr: io.Discard,
	})
	if err != nil {
		return "", remove, err
	}
	dir, err = b.snap.Commit(ctx, snap)
	return dir, remove, err
}

// setCacheOwner sets the uid=, gid= and mode= a cache mount gives, when
// given, on a cache dir seeded from= (whose root otherwise keeps the
// source's owner and mode).
func setCacheOwner(dir string, m *instructions.Mount) error {
	if m.UID != nil || m.GID != nil {
		uid, gid := -1, -1
		if m.UID != nil {
			uid = int(*m.UID)
		}
		if m.GID != nil {
			gid = int(*m.GID)
		}
		if err := os.Lchown(dir, uid, gid); err != nil {
			return fmt.Errorf("--mount=type=cache: %w", err)
		}
	}
	if m.Mode != nil {
		if err := os.Chmod(dir, os.FileMode(*m.Mode)&os.ModePerm); err != nil {
			return fmt.Errorf("--mount=type=cache: %w", err)
		}
	}
	return nil
}
