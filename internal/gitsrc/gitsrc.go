// Package gitsrc fetches the git repositories an ADD names, with Debian's
// git command: a source is parsed as BuildKit's Dockerfile frontend parses
// it (https://host/repo.git#ref:subdir, git@host:repo.git#ref, git:// and
// ssh:// URLs), its ref is resolved to a commit (git ls-remote) so that
// the commit can be part of a cache key before anything is cloned, and the
// commit is then checked out into a directory.
package gitsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// Source is a parsed git ADD source.
type Source struct {
	// Remote is what git clones: the URL without its fragment.
	Remote string
	// Ref is the branch, tag, or commit to check out; "" for the remote's
	// HEAD.
	Ref string
	// Subdir is the directory of the repository to add, clean and
	// relative; "" for the whole tree.
	Subdir string
}

// IsGit reports whether an ADD source names a git repository, as BuildKit
// tells them: git@host:path, git:// or ssh:// URLs, and http(s) URLs whose
// path ends in .git (a #ref fragment allowed).
func IsGit(s string) bool {
	if strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://") || strings.HasPrefix(s, "ssh://") {
		return true
	}
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
}

// Parse parses a git source: the fragment after "#" is "ref", "ref:subdir"
// or ":subdir".
func Parse(s string) (Source, error) {
	if !IsGit(s) {
		return Source{}, fmt.Errorf("parsing git source %s: not a git URL (https://host/repo.git, git@host:repo, git:// or ssh://)", s)
	}
	remote, frag, _ := strings.Cut(s, "#")
	ref, sub, _ := strings.Cut(frag, ":")
	src := Source{Remote: remote, Ref: ref}
	if sub != "" {
		clean := path.Clean("/" + sub)
		if clean != "/" {
			src.Subdir = clean[1:]
		}
	}
	if strings.HasPrefix(ref, "-") || strings.HasPrefix(remote, "-") {
		return Source{}, fmt.Errorf("parsing git source %s: a ref or remote may not start with \"-\"", s)
	}
	return src, nil
}

// commitRe matches a full commit id (sha1 or sha256 repositories).
var commitRe = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// Resolve returns the commit src's ref names on the remote: a full commit
// id is taken as it is; a ref is looked up with git ls-remote (a tag's
// peeled commit preferred, then a branch, then any ref of that name).
func Resolve(ctx context.Context, src Source) (string, error) {
	if commitRe.MatchString(src.Ref) {
		return src.Ref, nil
	}
	ref := src.Ref
	if ref == "" {
		ref = "HEAD"
	}
	out, err := git(ctx, "", "ls-remote", "--", src.Remote, ref, ref+"^{}")
	if err != nil {
		return "", fmt.Errorf("resolving %s of %s: %w", ref, src.Remote, err)
	}
	best, rank := "", 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		sha, name, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		r := 1
		switch {
		case name == "refs/tags/"+ref+"^{}":
			r = 5
		case name == "refs/tags/"+ref:
			r = 4
		case name == "refs/heads/"+ref || name == ref:
			r = 3
		case strings.HasSuffix(name, "/"+ref):
			r = 2
		}
		if r > rank {
			best, rank = sha, r
		}
	}
	if best == "" {
		return "", fmt.Errorf("resolving %s of %s: no such branch or tag (a commit must be written in full)", ref, src.Remote)
	}
	return best, nil
}

// CheckoutOptions are what Checkout makes.
type CheckoutOptions struct {
	// KeepGitDir keeps the repository's .git directory (ADD
	// --keep-git-dir=true); otherwise only the files are left.
	KeepGitDir bool
}

// Checkout fetches commit from src's remote into the new directory dir
// and checks it out there, and returns the directory to add: dir, or
// src.Subdir inside it.
func Checkout(ctx context.Context, src Source, commit, dir string, opts CheckoutOptions) (string, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("checking out %s: %w", src.Remote, err)
	}
	steps := [][]string{
		{"init", "-q"},
		{"remote", "add", "origin", src.Remote},
	}
	for _, s := range steps {
		if _, err := git(ctx, dir, s...); err != nil {
			return "", fmt.Errorf("checking out %s: %w", src.Remote, err)
		}
	}
	// by commit first (servers allow a tip or, with protocol v2, any
	// reachable commit); then the ref's name, for older servers
	if _, err := git(ctx, dir, "fetch", "-q", "--depth=1", "origin", commit); err != nil {
		ref := src.Ref
		if ref == "" {
			ref = "HEAD"
		}
		if _, err2 := git(ctx, dir, "fetch", "-q", "origin", ref); err2 != nil {
			return "", fmt.Errorf("fetching %s of %s: %w", commit, src.Remote, errors.Join(err, err2))
		}
	}
	if _, err := git(ctx, dir, "-c", "advice.detachedHead=false", "checkout", "-q", commit); err != nil {
		return "", fmt.Errorf("checking out %s of %s: %w", commit, src.Remote, err)
	}
	if !opts.KeepGitDir {
		if err := os.RemoveAll(dir + "/.git"); err != nil {
			return "", fmt.Errorf("removing .git: %w", err)
		}
	}
	if src.Subdir == "" {
		return dir, nil
	}
	sub, err := securejoin.SecureJoin(dir, src.Subdir) // a link stays inside
	if err != nil {
		return "", fmt.Errorf("checking out %s: %w", src.Remote, err)
	}
	fi, err := os.Stat(sub)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("checking out %s: the commit %s has no directory %s", src.Remote, commit, src.Subdir)
	}
	return sub, nil
}

// git runs git in dir ("" for the current one) with no terminal prompt
// and returns its output; an error carries git's stderr.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("running git: %w (apt-get install git)", err)
		}
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
