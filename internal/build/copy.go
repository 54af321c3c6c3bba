package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/fscopy"
	"github.com/strata-build/strata/internal/gitsrc"
	"github.com/strata-build/strata/internal/progress"
)

// copyArg is what the sandboxed copy op receives.
type copyArg struct {
	Action    fscopy.Action `json:"action"`
	SrcLowers []string      `json:"srcLowers,omitempty"` // a stage or image to mount as the source root
	Ignore    []string      `json:"ignore,omitempty"`    // .dockerignore patterns for context sources
	Mkdir     string        `json:"mkdir,omitempty"`     // WORKDIR: the dir to create
	Owner     fscopy.Owner  `json:"owner"`
}

// copyReq is a COPY or ADD after parsing its flags.
type copyReq struct {
	add      bool
	from     string
	chown    string
	chmod    string
	srcs     []string
	contents []instructions.SourceContent
	dest     string
	checksum string
	text     string
	flags    copyFlags
	keepGit  *bool // ADD --keep-git-dir
}

func (sr *stageRun) copy(ctx context.Context, c *instructions.CopyCommand, name string) error {
	return sr.doCopy(ctx, copyReq{from: c.From, chown: c.Chown, chmod: c.Chmod, srcs: c.SourcePaths,
		contents: c.SourceContents, dest: c.DestPath, text: c.String(),
		flags: copyFlags{exclude: c.ExcludePatterns, parents: c.Parents, link: c.Link}}, name)
}

func (sr *stageRun) add(ctx context.Context, c *instructions.AddCommand, name string) error {
	return sr.doCopy(ctx, copyReq{add: true, chown: c.Chown, chmod: c.Chmod, srcs: c.SourcePaths,
		contents: c.SourceContents, dest: c.DestPath, checksum: c.Checksum, text: c.String(),
		flags: copyFlags{exclude: c.ExcludePatterns, link: c.Link, unpack: c.Unpack}, keepGit: c.KeepGitDir}, name)
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// isGitSource reports whether an ADD source names a git repository, as
// BuildKit tells them: git@host:path, git:// or ssh:// URLs, and http(s)
// URLs whose path ends in .git (a #ref fragment allowed).
func isGitSource(s string) bool {
	return gitsrc.IsGit(s)
}

func (sr *stageRun) doCopy(ctx context.Context, r copyReq, name string) error {
	b := sr.b
	if err := checkGitSources(r); err != nil {
		return err
	}
	id := b.counter.Next()
	start := time.Now()
	lowers, err := b.lowerDirs(ctx, sr.s)
	if err != nil {
		return err
	}
	a := fscopy.Action{Dest: sr.resolvePath(copyDest(r.dest)), Unpack: r.add}
	var arg copyArg
	keyParts := []string{sr.s.key, "copy", a.Dest, strconv.FormatBool(r.add)}
	if r.chown != "" {
		uid, gid, err := resolveChown(lowers, r.chown)
		if err != nil {
			return fmt.Errorf("--chown=%s: %w", r.chown, err)
		}
		a.Chown = &fscopy.Owner{UID: uid, GID: gid}
		keyParts = append(keyParts, fmt.Sprintf("chown=%d:%d", uid, gid))
	}
	if r.chmod != "" {
		if err := setChmod(&a, r.chmod); err != nil {
			return err
		}
		keyParts = append(keyParts, "chmod="+r.chmod)
	}
	keyParts = append(keyParts, r.flags.apply(&a)...)
	if r.checksum != "" && (len(r.srcs) != 1 || !isURL(r.srcs[0]) && !isGitSource(r.srcs[0])) {
		return fmt.Errorf("--checksum needs exactly one http(s) or git source")
	}
	var prepare func() error // fetches what the step needs once it is not cached
	switch {
	case len(r.contents) > 0: // COPY <<EOF
		dir, err := os.MkdirTemp(b.tmp, "heredoc-")
		if err != nil {
			return err
		}
		h := sha256.New()
		for _, sc := range r.contents {
			if err := os.WriteFile(filepath.Join(dir, sc.Path), []byte(sc.Data), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%s\x00", sc.Path, sc.Data)
			a.Sources = append(a.Sources, fscopy.Source{Rel: sc.Path})
		}
		a.SrcRoot = dir
		keyParts = append(keyParts, "heredoc:"+hex.EncodeToString(h.Sum(nil)))
	case r.from != "":
		from, err := b.df.Expand(sr.lex, nil, r.from, b.plan.MetaArgs)
		if err != nil {
			return err
		}
		src, err := sr.fromState(ctx, from)
		if err != nil {
			return err
		}
		srcLowers, err := b.lowerDirs(ctx, src)
		if err != nil {
			return err
		}
		arg.SrcLowers = srcLowers
		if len(srcLowers) == 0 {
			empty, err := os.MkdirTemp(b.tmp, "empty-")
			if err != nil {
				return err
			}
			arg.SrcLowers = []string{empty}
		}
		a.KeepOwner = a.Chown == nil
		a.Sources = r.flags.sources(r.srcs)
		keyParts = append(keyParts, "from:"+src.key, strings.Join(r.srcs, "\x00"))
	default:
		var local []string
		for _, s := range r.srcs {
			if r.add && isGitSource(s) {
				part, fetch, err := sr.gitSource(ctx, s, r, &a)
				if err != nil {
					return err
				}
				keyParts, prepare = append(keyParts, part), fetch
				continue
			}
			if isURL(s) {
				if !r.add {
					return fmt.Errorf("COPY cannot take a URL (%s): use ADD", s)
				}
				dir, fname, sum, err := b.download(ctx, s, r.checksum)
				if err != nil {
					return err
				}
				a.Sources = append(a.Sources, fscopy.Source{Rel: fname})
				a.SrcRoot = dir
				a.Unpack = r.flags.unpack != nil && *r.flags.unpack
				keyParts = append(keyParts, "url:"+s+"@"+sum)
				continue
			}
			local = append(local, s)
		}
		if len(local) > 0 {
			if a.SrcRoot != "" {
				return fmt.Errorf("mixing URL and local sources in one ADD is not supported: split it")
			}
			if b.bctx == nil {
				return fmt.Errorf("no build context: the Dockerfile came from stdin, so COPY has nothing to copy")
			}
			sel, err := b.bctx.Select(r.flags.digestSources(local))
			if err != nil {
				return err
			}
			dg, err := b.bctx.Digest(ctx, sel)
			if err != nil {
				return fmt.Errorf("hashing the sources: %w", err)
			}
			a.Sources = r.flags.sources(local)
			a.SrcRoot = b.bctx.Dir()
			arg.Ignore = b.bctx.Patterns()
			keyParts = append(keyParts, "context:"+dg.String())
		}
	}
	key := hashKey(keyParts...)
	hist := strings.ToUpper(r.text[:strings.IndexByte(r.text+" ", ' ')]) + r.text[strings.IndexByte(r.text+" ", ' '):] + " # buildkit"
	hit, err := sr.cached(ctx, key, hist)
	if err == nil && !hit && r.flags.link {
		hit, err = sr.reuseLinked(linkKey(keyParts), key, hist)
	}
	if err != nil {
		return err
	}
	if hit {
		b.countStep(true)
		b.sink.Event(progress.Event{ID: id, Name: name, Status: progress.Cached, Time: start})
		return nil
	}
	b.sink.Event(progress.Event{ID: id, Name: name, Status: progress.Started, Time: start})
	if prepare != nil {
		if err := prepare(); err != nil {
			b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: err.Error(), Time: time.Now()})
			return err
		}
	}
	arg.Action = a
	if r.flags.link {
		lowers = nil // the layer is made on an empty root
	}
	if err := sr.fileOp(ctx, lowers, arg, key, hist); err != nil {
		b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: err.Error(), Time: time.Now()})
		return err
	}
	if r.flags.link {
		if err := sr.keepLinked(linkKey(keyParts)); err != nil {
			return err
		}
	}
	b.countStep(false)
	b.sink.Event(progress.Event{ID: id, Status: progress.Done, Elapsed: time.Since(start), Time: time.Now()})
	return nil
}

// fromState returns the state a COPY --from or a bind mount names.
func (sr *stageRun) fromState(ctx context.Context, from string) (*state, error) {
	b := sr.b
	if n, err := strconv.Atoi(from); err == nil {
		return b.stageState(n), nil
	}
	for _, s := range b.plan.Stages {
		if s.Name != "" && strings.EqualFold(s.Name, from) && s.Index < sr.ps.Index {
			return b.stageState(s.Index), nil
		}
	}
	s, err := b.loadImage(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("--from=%s: %w", from, err)
	}
	return s, nil
}

// fileOp runs the copy op in the sandbox and commits the result.
func (sr *stageRun) fileOp(ctx context.Context, lowers []string, arg copyArg, key, hist string) error {
	b := sr.b
	dir, err := b.st.TempDir("copy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(arg)
	if err != nil {
		return err
	}
	var stderr strings.Builder
	err = executor.Do(ctx, executor.DoSpec{
		Rootfs: executor.Rootfs{Lower: lowers, Upper: upper, Work: work, Volatile: true}, // commit syncs
		Op:     opCopy,
		Arg:    raw,
		Stdout: io.Discard,
		Stderr: &stderr,
	})
	if err != nil {
		return err
	}
	l, ld, err := b.commit(ctx, sr.s, upper, b.blobsFor(sr.ps.Index))
	if err != nil {
		return err
	}
	sr.s.addLayer(l, ld)
	sr.s.history(hist, false, b.now())
	sr.s.key = key
	return sr.remember(key, &l)
}

// workdir handles WORKDIR: it sets the config and creates the directory.
func (sr *stageRun) workdir(ctx context.Context, c *instructions.WorkdirCommand, name string) error {
	b := sr.b
	wd := c.Path
	if !path.IsAbs(wd) {
		cur := sr.s.cfg.Config.WorkingDir
		if cur == "" {
			cur = "/"
		}
		wd = path.Join(cur, wd)
	}
	wd = path.Clean(wd)
	sr.s.cfg.Config.WorkingDir = wd
	if wd == "/" {
		sr.s.history("WORKDIR "+wd, true, b.now())
		sr.s.key = hashKey(sr.s.key, "workdir", wd)
		return nil
	}
	id := b.counter.Next()
	start := time.Now()
	lowers, err := b.lowerDirs(ctx, sr.s)
	if err != nil {
		return err
	}
	var owner fscopy.Owner
	if u := sr.s.cfg.Config.User; u != "" {
		uid, gid, err := resolveChown(lowers, u)
		if err != nil {
			return fmt.Errorf("USER %s: %w", u, err)
		}
		owner = fscopy.Owner{UID: uid, GID: gid}
	}
	key := hashKey(sr.s.key, "workdir", wd, fmt.Sprint(owner.UID, owner.GID))
	if hit, err := sr.cached(ctx, key, "WORKDIR "+wd); err != nil {
		return err
	} else if hit {
		b.countStep(true)
		b.sink.Event(progress.Event{ID: id, Name: name, Status: progress.Cached, Time: start})
		return nil
	}
	b.sink.Event(progress.Event{ID: id, Name: name, Status: progress.Started, Time: start})
	if err := sr.fileOp(ctx, lowers, copyArg{Mkdir: wd, Owner: owner}, key, "WORKDIR "+wd); err != nil {
		b.sink.Event(progress.Event{ID: id, Status: progress.Failed, Err: err.Error(), Time: time.Now()})
		return err
	}
	b.countStep(false)
	b.sink.Event(progress.Event{ID: id, Status: progress.Done, Elapsed: time.Since(start), Time: time.Now()})
	return nil
}

// download fetches an ADD URL into a fresh dir, checking --checksum.
func (b *builder) download(ctx context.Context, rawURL, checksum string) (dir, name, sum string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	name = path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "index.html"
	}
	dir, err = os.MkdirTemp(b.tmp, "url-")
	if err != nil {
		return "", "", "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", "", "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", "", fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", "", fmt.Errorf("downloading %s: %s", rawURL, resp.Status)
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", "", err
	}
	h := sha256.New()
	want, err := newChecksum(checksum)
	if err != nil {
		return "", "", "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	if _, err := io.Copy(io.MultiWriter(f, h, want), resp.Body); err != nil {
		f.Close()
		return "", "", "", fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	if err := f.Close(); err != nil {
		return "", "", "", err
	}
	sum = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if got := want.sum(); got != checksum {
		return "", "", "", fmt.Errorf("ADD %s: checksum mismatch: got %s, --checksum wants %s", rawURL, got, checksum)
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		_ = os.Chtimes(p, lm, lm)
	}
	return dir, name, sum, nil
}
