package e2e

import (
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The helpers of the ADD git tests are prefixed with agit.

// agitRun runs git in dir and fails the test on an error.
func agitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s (apt-get install git): %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// agitWrite writes a file of the repository.
func agitWrite(t *testing.T, repo, name, data string) {
	t.Helper()
	p := filepath.Join(repo, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// agitServe makes a repository (a commit tagged v1) served by git
// http-backend on 127.0.0.1; it returns the repository's URL, its work
// tree and the tagged commit.
func agitServe(t *testing.T) (url, repo, c1 string) {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("ADD git tests need git's http-backend (apt-get install git): %v", err)
	}
	root := t.TempDir()
	repo = filepath.Join(root, "repo.git")
	agitRun(t, root, "init", "-q", "-b", "main", "repo.git")
	agitWrite(t, repo, "README", "v1\n")
	agitWrite(t, repo, "sub/f.txt", "sub v1\n")
	agitRun(t, repo, "add", "-A")
	agitRun(t, repo, "commit", "-q", "-m", "one")
	agitRun(t, repo, "tag", "v1")
	c1 = agitRun(t, repo, "rev-parse", "HEAD")
	srv := httptest.NewServer(&cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	t.Cleanup(srv.Close)
	return srv.URL + "/repo.git", repo, c1
}

// TestAddGit: ADD of a git repository (BuildKit's https://host/repo.git#ref:subdir,
// --keep-git-dir, --checksum as the commit) from a server the test runs;
// the commit is part of the step's key, so a moved branch adds again and
// an unmoved one is cached.
func TestAddGit(t *testing.T) {
	url, repo, c1 := agitServe(t)
	s := newStrata(t)
	df := "FROM busybox\n" +
		"ADD " + url + "#v1 /v1\n" +
		"ADD " + url + "#main:sub /sub\n" +
		"ADD --keep-git-dir=true " + url + " /kept\n" +
		"ADD --checksum=" + c1 + " " + url + "#v1 /checked/\n"
	ctx := bldContext(t, df, nil)
	s.must("build", "-t", "git1", ctx)
	e := bldExport(t, s, "git1")
	for name, want := range map[string]string{"v1/README": "v1\n", "v1/sub/f.txt": "sub v1\n", "sub/f.txt": "sub v1\n",
		"kept/README": "v1\n", "checked/README": "v1\n"} {
		if got := bldFile(t, e, name); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
	if _, ok := e["kept/.git/HEAD"]; !ok {
		t.Errorf("--keep-git-dir=true: no /kept/.git/HEAD")
	}
	if _, ok := e["v1/.git"]; ok {
		t.Errorf("/v1/.git kept without --keep-git-dir")
	}

	agitWrite(t, repo, "sub/f.txt", "sub v2\n")
	agitRun(t, repo, "commit", "-q", "-am", "two")
	r := s.must("build", "--progress=plain", "-t", "git2", ctx)
	if st := bldStatus(t, r.stderr, "#v1 /v1"); st != "CACHED" {
		t.Errorf("ADD of the unmoved tag: %s, want CACHED", st)
	}
	if st := bldStatus(t, r.stderr, "#main:sub /sub"); st != "DONE" {
		t.Errorf("ADD of the moved branch: %s, want DONE", st)
	}
	if got := bldFile(t, bldExport(t, s, "git2"), "sub/f.txt"); got != "sub v2\n" {
		t.Errorf("/sub/f.txt after the branch moved = %q", got)
	}
}

// TestAddGitErrors: a wrong --checksum, a missing ref or subdir, a source
// that is no repository and --keep-git-dir on a file fail at the ADD's line.
func TestAddGitErrors(t *testing.T) {
	url, _, _ := agitServe(t)
	plain := httptest.NewServer(nil) // 404 for everything
	defer plain.Close()
	s := newStrata(t)
	tests := []struct{ name, add, want string }{
		{"checksum", "ADD --checksum=0000000000 " + url + "#v1 /x", "checksum mismatch"},
		{"missing ref", "ADD " + url + "#nope /x", "no such branch or tag"},
		{"missing subdir", "ADD " + url + "#v1:nope /x", "has no directory nope"},
		{"not a repository", "ADD " + plain.URL + "/other.git /x", "resolving"},
		{"keep-git-dir on a file", "ADD --keep-git-dir=true a.txt /x", "--keep-git-dir applies to git sources only"},
		{"git beside a file", "ADD " + url + " a.txt /x/", "only source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.run("build", bldContext(t, "FROM busybox\n"+tt.add+"\n", map[string]string{"a.txt": "a"}))
			if r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:2") || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want an error at Dockerfile:2 with %q:\n%s", r.code, tt.want, r.stderr)
			}
		})
	}
}
