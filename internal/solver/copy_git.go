package solver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-build/strata/internal/fscopy"
	"github.com/strata-build/strata/internal/gitsrc"
)

// checkGitSources refuses what ADD cannot do with git sources: a git
// source beside others, and --keep-git-dir without one.
func checkGitSources(r copyReq) error {
	git := 0
	for _, s := range r.srcs {
		if r.add && isGitSource(s) {
			git++
		}
	}
	if git > 0 && len(r.srcs) > 1 {
		return fmt.Errorf("a git repository must be ADD's only source: split the ADD")
	}
	if git == 0 && r.keepGit != nil {
		return fmt.Errorf("--keep-git-dir applies to git sources only (https://host/repo.git#ref, git@host:repo): remove it")
	}
	return nil
}

// gitSource resolves the git source s of an ADD to its commit and sets a
// to copy the checkout's tree; it returns the step's key part (the
// commit, so that a moved branch is a new step) and the fetch to run when
// the step is not cached. --checksum, when given, must be the commit (or
// a prefix of it), as BuildKit checks it.
func (sr *stageRun) gitSource(ctx context.Context, s string, r copyReq, a *fscopy.Action) (string, func() error, error) {
	src, err := gitsrc.Parse(s)
	if err != nil {
		return "", nil, err
	}
	commit, err := gitsrc.Resolve(ctx, src)
	if err != nil {
		return "", nil, err
	}
	if r.checksum != "" && (len(r.checksum) < 7 || !strings.HasPrefix(commit, r.checksum)) {
		return "", nil, fmt.Errorf("ADD %s: checksum mismatch: the ref is commit %s, --checksum wants %s", s, commit, r.checksum)
	}
	keep := r.keepGit != nil && *r.keepGit
	a.Sources = []fscopy.Source{{Rel: "."}}
	a.Unpack = false
	fetch := func() error {
		tmp, err := os.MkdirTemp(sr.b.tmp, "git-")
		if err != nil {
			return err
		}
		dir, err := gitsrc.Checkout(ctx, src, commit, filepath.Join(tmp, "tree"), gitsrc.CheckoutOptions{KeepGitDir: keep})
		if err != nil {
			return err
		}
		a.SrcRoot = dir
		return nil
	}
	part := "git:" + src.Remote + "@" + commit + ":" + src.Subdir + ":keep=" + strconv.FormatBool(keep)
	return part, fetch, nil
}
