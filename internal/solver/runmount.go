package solver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/buildcontext"
	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/fscopy"
	"github.com/strata-build/strata/internal/snapshot"
)

// runMounts prepares the RUN --mount flags of c. The cleanup removes the
// scratch dirs they used and releases the locks of sharing=locked cache
// mounts; call it after the RUN. On error, runMounts has cleaned up.
func (sr *stageRun) runMounts(ctx context.Context, c *instructions.RunCommand) (_ []executor.Mount, _ func(), err error) {
	var mounts []executor.Mount
	scratch, err := os.MkdirTemp(sr.b.tmp, "mounts-")
	if err != nil {
		return nil, func() {}, fmt.Errorf("making the mounts' scratch dir: %w", err)
	}
	var locks []*os.File
	cleanup := func() {
		for _, l := range locks {
			l.Close() // releases the flock
		}
		os.RemoveAll(scratch)
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	for i, m := range instructions.GetMounts(c) {
		target := m.Target
		if !strings.HasPrefix(target, "/") {
			target = sr.resolvePath(target)
		}
		dir := filepath.Join(scratch, fmt.Sprint(i))
		var mnt executor.Mount
		switch m.Type {
		case instructions.MountTypeSecret:
			continue // secretFiles mounts them
		case instructions.MountTypeTmpfs:
			mnt = executor.Mount{Type: "tmpfs", Target: target}
			if m.SizeLimit > 0 {
				mnt.Options = []string{fmt.Sprintf("size=%d", m.SizeLimit)}
			}
		case instructions.MountTypeCache:
			cdir, err := sr.cacheDir(m, target)
			if err != nil {
				return nil, cleanup, err
			}
			if m.CacheSharing == instructions.MountSharingLocked {
				l, err := lockCache(ctx, cdir)
				if err != nil {
					return nil, cleanup, err
				}
				locks = append(locks, l)
			}
			mnt = executor.Mount{Type: "bind", Source: cdir, Target: target, ReadOnly: m.ReadOnly}
		case instructions.MountTypeBind:
			if m.From == "" {
				mnt, err = sr.contextBind(ctx, m, target, dir)
			} else {
				var done func()
				mnt, done, err = sr.stageBind(ctx, m, target, dir)
				if done != nil {
					prev := cleanup
					cleanup = func() { done(); prev() }
				}
			}
			if err != nil {
				return nil, cleanup, err
			}
		default:
			return nil, cleanup, fmt.Errorf("--mount=type=%s is not supported yet", m.Type)
		}
		mounts = append(mounts, mnt)
	}
	return mounts, cleanup, nil
}

// lockCache waits for the exclusive lock of the cache dir (a flock on
// DIR.lock, so that other strata processes wait too) and returns the file
// holding it; closing it releases the lock.
func lockCache(ctx context.Context, dir string) (*os.File, error) {
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--mount=type=cache,sharing=locked: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("--mount=type=cache,sharing=locked: locking: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cacheDir returns the host dir of a cache mount, by id (default the
// target), made when missing: owned by uid:gid (default 0:0) with mode
// (default 0755), which apply when the cache is made: a cache made
// before keeps its own.
func (sr *stageRun) cacheDir(m *instructions.Mount, target string) (string, error) {
	id := m.CacheID
	if id == "" {
		id = target
	}
	parent := filepath.Join(sr.b.st.Root(), "cachemounts")
	dir := filepath.Join(parent, hashKey("cache", id)[:32])
	if _, err := os.Lstat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("--mount=type=cache: %w", err)
	}
	// Made aside and renamed, so that a concurrent RUN never sees a cache
	// dir whose owner and mode are not set yet.
	tmp, err := os.MkdirTemp(parent, "new-")
	if err != nil {
		return "", fmt.Errorf("--mount=type=cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	uid, gid, mode := 0, 0, os.FileMode(0o755)
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode) & os.ModePerm
	}
	if err := os.Chown(tmp, uid, gid); err != nil {
		return "", fmt.Errorf("--mount=type=cache: %w", err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return "", fmt.Errorf("--mount=type=cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) && !errors.Is(err, syscall.ENOTEMPTY) {
		return "", fmt.Errorf("--mount=type=cache: %w", err)
	}
	return dir, nil
}

// contextBind makes the mount of a bind mount without from=: the source=
// file or directory of the build context, .dockerignore applied, relative
// to the context's root. Read-only, it shows the context's files; with rw,
// the RUN's writes go to the scratch dir and vanish after it.
func (sr *stageRun) contextBind(ctx context.Context, m *instructions.Mount, target, scratch string) (executor.Mount, error) {
	if sr.b.bctx == nil {
		return executor.Mount{}, fmt.Errorf("--mount=type=bind,source=%s: no build context (give a context directory, or use from=)", m.Source)
	}
	view, err := sr.b.ctxViews.get(ctx, sr.b.bctx, m.Source, sr.b.tmp)
	if err != nil {
		return executor.Mount{}, fmt.Errorf("--mount=type=bind,source=%s: %w", m.Source, err)
	}
	fi, err := os.Stat(view)
	if err != nil {
		return executor.Mount{}, fmt.Errorf("--mount=type=bind,source=%s: %w", m.Source, err)
	}
	switch {
	case m.ReadOnly:
		return executor.Mount{Type: "bind", Source: view, Target: target, ReadOnly: true}, nil
	case fi.IsDir():
		if err := os.Mkdir(scratch, 0o700); err != nil {
			return executor.Mount{}, err
		}
		return executor.Mount{Type: "layers", Lowers: []string{view}, Source: scratch, Target: target}, nil
	default:
		if err := os.Mkdir(scratch, 0o700); err != nil {
			return executor.Mount{}, err
		}
		file := filepath.Join(scratch, "file")
		if err := fscopy.Copy(ctx, scratch, fscopy.Action{SrcRoot: filepath.Dir(view),
			Sources: []fscopy.Source{{Rel: filepath.Base(view)}}, Dest: "/file"}); err != nil {
			return executor.Mount{}, fmt.Errorf("--mount=type=bind,source=%s,rw: copying: %w", m.Source, err)
		}
		return executor.Mount{Type: "bind", Source: file, Target: target}, nil
	}
}

// stageBind makes the mount of a bind mount with from=: the source= path
// (default the root) of a stage or image, read-only unless rw.
func (sr *stageRun) stageBind(ctx context.Context, m *instructions.Mount, target, scratch string) (executor.Mount, func(), error) {
	b := sr.b
	from, err := b.df.Expand(sr.lex, nil, m.From, b.plan.MetaArgs)
	if err != nil {
		return executor.Mount{}, nil, err
	}
	src, err := sr.fromState(ctx, from)
	if err != nil {
		return executor.Mount{}, nil, err
	}
	lowers, err := b.lowerDirs(ctx, src)
	if err != nil {
		return executor.Mount{}, nil, err
	}
	mnt := executor.Mount{Type: "layers", Lowers: lowers, Target: target, ReadOnly: m.ReadOnly,
		Sub: path.Clean("/" + m.Source)}
	if _, ok := b.snap.(*snapshot.Overlay); !ok {
		return b.nativeFromMount(ctx, lowers, mnt)
	}
	if !m.ReadOnly || mnt.Sub != "/" {
		if err := os.Mkdir(scratch, 0o700); err != nil {
			return executor.Mount{}, nil, err
		}
		mnt.Source = scratch
	}
	return mnt, nil, nil
}

// ctxViews are the host directories (or files) that context bind mounts
// show, one per source, made once per build: the context's own path when
// no .dockerignore pattern applies, or else a copy of what the patterns
// leave.
type ctxViews struct {
	mu    sync.Mutex
	paths map[string]string // cleaned source → host path
}

// get returns the view of source, making it when needed under tmp.
func (v *ctxViews) get(ctx context.Context, bctx *buildcontext.Context, source, tmp string) (string, error) {
	rel, err := bctx.Resolve(source)
	if err != nil {
		return "", err
	}
	if len(bctx.Patterns()) == 0 {
		return filepath.Join(bctx.Dir(), filepath.FromSlash(rel)), nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if p, ok := v.paths[rel]; ok {
		return p, nil
	}
	dir, err := os.MkdirTemp(tmp, "bindctx-")
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(filepath.Join(bctx.Dir(), filepath.FromSlash(rel)))
	if err != nil {
		return "", err
	}
	a := fscopy.Action{SrcRoot: bctx.Dir(), Exclude: bctx.Patterns(), Sources: []fscopy.Source{{Rel: rel}}, Dest: "/"}
	p := dir
	if !fi.IsDir() {
		a.Dest = "/" + path.Base(rel)
		p = filepath.Join(dir, path.Base(rel))
	}
	if err := fscopy.Copy(ctx, dir, a); err != nil {
		return "", fmt.Errorf("copying the context's files: %w", err)
	}
	if v.paths == nil {
		v.paths = map[string]string{}
	}
	v.paths[rel] = p
	return p, nil
}

// mountKey is the part of a RUN's cache key its --mount flags make: for a
// bind mount the content it shows (the context files' digest, or the
// other stage's cache key), for a secret only whether it was given.
func (sr *stageRun) mountKey(ctx context.Context, c *instructions.RunCommand) (string, error) {
	var parts []string
	for _, m := range instructions.GetMounts(c) {
		if m.Type == instructions.MountTypeSecret {
			continue
		}
		part := fmt.Sprintf("%s:%s:%s:%s:%v", m.Type, m.From, m.Source, m.Target, m.ReadOnly)
		if m.Type == instructions.MountTypeBind {
			src, err := sr.bindSourceKey(ctx, m)
			if err != nil {
				return "", err
			}
			part += ":" + src
		}
		parts = append(parts, part)
	}
	if sk := sr.secretKey(c); sk != "" {
		parts = append(parts, sk)
	}
	return strings.Join(parts, ","), nil
}

// bindSourceKey identifies what a bind mount shows: the cache key of the
// stage or image of from=, or the digest of the context files mounted.
func (sr *stageRun) bindSourceKey(ctx context.Context, m *instructions.Mount) (string, error) {
	b := sr.b
	if m.From != "" {
		from, err := b.df.Expand(sr.lex, nil, m.From, b.plan.MetaArgs)
		if err != nil {
			return "", err
		}
		src, err := sr.fromState(ctx, from)
		if err != nil {
			return "", err
		}
		return "from:" + src.key, nil
	}
	if b.bctx == nil {
		return "", nil // runMounts reports it
	}
	// The source is a path, never a pattern: no Select.
	src := []buildcontext.Source{{Rel: buildcontext.CleanSource(m.Source)}}
	dg, err := b.bctx.Digest(ctx, src)
	if err != nil {
		return "", fmt.Errorf("--mount=type=bind,source=%s: %w", m.Source, err)
	}
	return "context:" + dg.String(), nil
}
