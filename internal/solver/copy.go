package solver

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

	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/fscopy"
	"github.com/strata-build/strata/internal/gitsrc"
	"github.com/strata-build/strata/internal/procspec"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/snapshot"
)

// copyArg is what the sandboxed copy op receives.
type copyArg struct {
	Action    fscopy.Action `json:"action"`
	SrcLowers []string      `json:"srcLowers,omitempty"` // a stage or image to mount as the source root
	Ignore    []string      `json:"ignore,omitempty"`    // .dockerignore patterns for context sources
	Mkdir     string        `json:"mkdir,omitempty"`     // WORKDIR: the dir to create
	Owner     *fscopy.Owner `json:"owner,omitempty"`     // WORKDIR: the USER's, nil without one

	// Src is the snapshotter's view of SrcLowers, which the op mounts.
	Src *snapshot.Mount `json:"src,omitempty"`
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

// dispatchCopy handles COPY.
func (sr *stageRun) dispatchCopy(ctx context.Context, c *instructions.CopyCommand, name string) error {
	return sr.copyStep(ctx, copyReq{from: c.From, chown: c.Chown, chmod: c.Chmod, srcs: c.SourcePaths,
		contents: c.SourceContents, dest: c.DestPath, text: c.String(),
		flags: copyFlags{exclude: c.ExcludePatterns, parents: c.Parents, link: c.Link}}, name)
}

// dispatchAdd handles ADD.
func (sr *stageRun) dispatchAdd(ctx context.Context, c *instructions.AddCommand, name string) error {
	return sr.copyStep(ctx, copyReq{add: true, chown: c.Chown, chmod: c.Chmod, srcs: c.SourcePaths,
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

// copyPlan is a COPY or ADD being prepared: the sandboxed op's argument and
// the parts of the step's cache key.
type copyPlan struct {
	arg copyArg
	key []string
	// prepare fetches what the step needs once it is not cached (an ADD's
	// git checkout).
	prepare func() error
}

// copyStep runs a COPY or ADD through the step wrapper.
func (sr *stageRun) copyStep(ctx context.Context, r copyReq, name string) error {
	b := sr.b
	if err := checkGitSources(r); err != nil {
		return err
	}
	lowers, err := b.lowerDirs(ctx, sr.s)
	if err != nil {
		return err
	}
	op, err := sr.copyFlags(lowers, r)
	if err != nil {
		return err
	}
	switch {
	case len(r.contents) > 0: // COPY <<EOF
		err = sr.heredocSources(r, op)
	case r.from != "":
		err = sr.fromSources(ctx, r, op)
	default:
		err = sr.contextSources(ctx, r, op)
	}
	if err != nil {
		return err
	}
	key := hashKey(op.key...)
	hist := strings.ToUpper(r.text[:strings.IndexByte(r.text+" ", ' ')]) + r.text[strings.IndexByte(r.text+" ", ' '):] + " # buildkit"
	st := fsStep{name: name, key: key, hist: hist, tmpPfx: "copy-", prepare: op.prepare,
		exec: func(ctx context.Context, _ int, root snapshot.Mount) error {
			return sr.fileOp(ctx, root, op.arg)
		}}
	if r.flags.link {
		st.linkKey = linkKey(op.key)
	}
	return sr.doStep(ctx, st)
}

// copyFlags starts a COPY or ADD's op with its destination, --chown and
// --chmod (octal or symbolic), the COPY/ADD flags (--exclude, --parents,
// --link, --unpack), and checks --checksum.
func (sr *stageRun) copyFlags(lowers []string, r copyReq) (*copyPlan, error) {
	a := &fscopy.Action{Dest: sr.resolvePath(copyDest(r.dest)), Unpack: r.add}
	op := &copyPlan{key: []string{sr.s.key, "copy", a.Dest, strconv.FormatBool(r.add)}}
	if r.chown != "" {
		uid, gid, warn, err := procspec.LookupOwner(lowers, r.chown)
		if err != nil {
			return nil, fmt.Errorf("--chown=%s: %w", r.chown, err)
		}
		if warn != "" {
			sr.warn("--chown=" + r.chown + ": " + warn)
		}
		a.Chown = &fscopy.Owner{UID: uid, GID: gid}
		op.key = append(op.key, fmt.Sprintf("chown=%d:%d", uid, gid))
	}
	if r.chmod != "" {
		if err := setChmod(a, r.chmod); err != nil {
			return nil, err
		}
		op.key = append(op.key, "chmod="+r.chmod)
	}
	op.key = append(op.key, r.flags.apply(a)...)
	if r.checksum != "" && (len(r.srcs) != 1 || !isURL(r.srcs[0]) && !isGitSource(r.srcs[0])) {
		return nil, fmt.Errorf("--checksum needs exactly one http(s) or git source")
	}
	op.arg.Action = *a
	return op, nil
}

// heredocSources writes a COPY's heredocs into a scratch dir as its sources.
func (sr *stageRun) heredocSources(r copyReq, op *copyPlan) error {
	dir, err := os.MkdirTemp(sr.b.tmp, "heredoc-")
	if err != nil {
		return err
	}
	a := &op.arg.Action
	h := sha256.New()
	for _, sc := range r.contents {
		if err := os.WriteFile(filepath.Join(dir, sc.Path), []byte(sc.Data), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%s\x00", sc.Path, sc.Data)
		a.Sources = append(a.Sources, fscopy.Source{Rel: sc.Path})
	}
	a.SrcRoot = dir
	op.key = append(op.key, "heredoc:"+hex.EncodeToString(h.Sum(nil)))
	return nil
}

// fromSources sets a COPY --from's sources: paths in a stage or an image,
// whose filesystem key is part of the step's key.
func (sr *stageRun) fromSources(ctx context.Context, r copyReq, op *copyPlan) error {
	b := sr.b
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
	op.arg.SrcLowers = srcLowers
	if len(srcLowers) == 0 {
		empty, err := os.MkdirTemp(b.tmp, "empty-")
		if err != nil {
			return err
		}
		op.arg.SrcLowers = []string{empty}
	}
	a := &op.arg.Action
	a.KeepOwner = a.Chown == nil
	a.Sources = r.flags.sources(r.srcs)
	op.key = append(op.key, "from:"+src.key, strings.Join(r.srcs, "\x00"))
	return nil
}

// contextSources sets the sources of a COPY or ADD from the build context
// (keyed by their content digest) or, for ADD, downloaded URLs (keyed by
// URL and content) and git repositories (keyed by commit).
func (sr *stageRun) contextSources(ctx context.Context, r copyReq, op *copyPlan) error {
	b := sr.b
	a := &op.arg.Action
	var local []string
	for _, s := range r.srcs {
		if r.add && (isGitSource(s) || isURL(s)) {
			if err := sr.planFetch(s); err != nil {
				return err
			}
		}
		if r.add && isGitSource(s) {
			part, fetch, err := sr.gitSource(ctx, s, r, a)
			if err != nil {
				return err
			}
			op.key, op.prepare = append(op.key, part), fetch
			continue
		}
		if !isURL(s) {
			local = append(local, s)
			continue
		}
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
		op.key = append(op.key, "url:"+s+"@"+sum)
	}
	if len(local) == 0 {
		return nil
	}
	if a.SrcRoot != "" {
		return fmt.Errorf("mixing URL and local sources in one ADD is not supported: split it")
	}
	bctx := b.bctx
	if sr.bctx != nil {
		bctx = sr.bctx
	}
	if bctx == nil {
		return fmt.Errorf("no build context: the Dockerfile came from stdin, so COPY has nothing to copy")
	}
	sel, err := bctx.Select(r.flags.digestSources(local))
	if err != nil {
		return err
	}
	dg, err := bctx.Digest(ctx, sel)
	if err != nil {
		return fmt.Errorf("hashing the sources: %w", err)
	}
	a.Sources = r.flags.sources(local)
	a.SrcRoot = bctx.Dir()
	a.SocketsAsFiles = true
	op.arg.Ignore = bctx.Patterns()
	op.key = append(op.key, "context:"+dg.String())
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
	s, err := b.imageState(ctx, from, sr.ps)
	if err != nil {
		return nil, fmt.Errorf("--from=%s: %w", from, err)
	}
	return s, nil
}

// fileOp runs the copy op in the sandbox, on root (the step's snapshot).
func (sr *stageRun) fileOp(ctx context.Context, root snapshot.Mount, arg copyArg) error {
	removeView, err := sr.b.sourceView(ctx, &arg)
	defer removeView()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(arg)
	if err != nil {
		return err
	}
	return sr.b.exec.Do(ctx, executor.DoSpec{
		Rootfs: root, // volatile: commit syncs
		Op:     opCopy,
		Arg:    raw,
		Stdout: io.Discard,
		Stderr: io.Discard,
	})
}

// dispatchWorkdir handles WORKDIR: it sets the config and creates the
// directory (a layer), owned by the current USER.
func (sr *stageRun) dispatchWorkdir(ctx context.Context, c *instructions.WorkdirCommand, name string) error {
	b := sr.b
	wd := sr.setWorkdir(c.Path)
	if wd == "/" {
		// No layer, and no key change: a RUN's key has its working dir.
		sr.metaHistory("WORKDIR " + wd)
		return nil
	}
	lowers, err := b.lowerDirs(ctx, sr.s)
	if err != nil {
		return err
	}
	// The directories are made by the current USER, as BuildKit's mkdir
	// with WithUser; without one, they are left as mkdir makes them (root,
	// or the group of a setgid parent).
	var owner *fscopy.Owner
	if u := sr.s.cfg.Config.User; u != "" {
		uid, gid, warn, err := procspec.LookupOwner(lowers, u)
		if err != nil {
			return fmt.Errorf("USER %s: %w", u, err)
		}
		if warn != "" {
			sr.warn("USER " + u + ": " + warn)
		}
		owner = &fscopy.Owner{UID: uid, GID: gid}
	}
	arg := copyArg{Mkdir: wd, Owner: owner}
	return sr.doStep(ctx, fsStep{name: name, key: workdirKey(sr.s.key, wd, owner), hist: "WORKDIR " + wd, tmpPfx: "copy-",
		exec: func(ctx context.Context, _ int, root snapshot.Mount) error {
			return sr.fileOp(ctx, root, arg)
		}})
}

// setWorkdir sets the config's working dir to p (relative to the current
// one) and returns the clean directory to create. As in BuildKit, an
// absolute path goes into the config as written (WORKDIR /var/lib/etcd/
// keeps its slash); a relative one is joined, and so cleaned.
func (sr *stageRun) setWorkdir(p string) string {
	if !path.IsAbs(p) {
		cur := sr.s.cfg.Config.WorkingDir
		if cur == "" {
			cur = "/"
		}
		p = path.Join("/", cur, p)
	}
	sr.s.cfg.Config.WorkingDir = p
	return path.Clean(p)
}

// workdirKey is the cache key of a WORKDIR that creates dir, owned by owner
// (nil: mkdir's own owner), on the filesystem of key parent.
func workdirKey(parent, dir string, owner *fscopy.Owner) string {
	who := "mkdir"
	if owner != nil {
		who = fmt.Sprint(owner.UID, owner.GID)
	}
	return hashKey(parent, "workdir", dir, who)
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

// warn shows a message about the running instruction, with its file:line,
// as a build warning.
func (sr *stageRun) warn(msg string) {
	file := sr.b.df.File
	line := dockerfile.Line(sr.ps.Src.Location)
	text := "FROM " + sr.ps.Base
	if sr.cur != nil {
		line, text = dockerfile.Line(sr.cur.Location()), instructionText(sr.cur)
	}
	sr.b.sink.Event(progress.Event{Status: progress.Info, Time: time.Now(),
		Line: fmt.Sprintf("[Warning] %s:%d: %s: %s", file, line, text, msg)})
}
