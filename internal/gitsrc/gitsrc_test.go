package gitsrc

import (
	"context"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		src     string
		want    Source
		wantErr string
	}{
		{"https://host/repo.git", Source{Remote: "https://host/repo.git"}, ""},
		{"https://host/repo.git#v1.2", Source{Remote: "https://host/repo.git", Ref: "v1.2"}, ""},
		{"https://host/repo.git#main:sub/dir/", Source{Remote: "https://host/repo.git", Ref: "main", Subdir: "sub/dir"}, ""},
		{"https://host/repo.git#:../../etc", Source{Remote: "https://host/repo.git", Subdir: "etc"}, ""},
		{"git@github.com:moby/buildkit.git#v0.10.1", Source{Remote: "git@github.com:moby/buildkit.git", Ref: "v0.10.1"}, ""},
		{"ssh://git@host/r#abc", Source{Remote: "ssh://git@host/r", Ref: "abc"}, ""},
		{"https://host/file.tar.gz", Source{}, "not a git URL"},
		{"https://host/repo.git#--upload-pack=x", Source{}, "may not start with"},
	} {
		t.Run(tc.src, func(t *testing.T) {
			got, err := Parse(tc.src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Parse (-got +want):\n%s", diff)
			}
		})
	}
}

// gitRun runs git in dir and fails the test on an error.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@t", "GIT_AUTHOR_DATE=2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2020-01-01T00:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// serveRepo makes a repository with two commits (v1 tagged, then main
// moved on) and serves it with git http-backend; it returns the URL and
// the two commits.
func serveRepo(t *testing.T) (url, c1, c2 string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("these tests need git (apt-get install git): %v", err)
	}
	root := t.TempDir()
	repo := filepath.Join(root, "repo.git")
	gitRun(t, root, "init", "-q", "-b", "main", "repo.git")
	write := func(name, data string) {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README", "one\n")
	write("sub/f.txt", "sub one\n")
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", "one")
	gitRun(t, repo, "tag", "-a", "-m", "v1", "v1")
	c1 = gitRun(t, repo, "rev-parse", "HEAD")
	write("README", "two\n")
	gitRun(t, repo, "commit", "-q", "-am", "two")
	c2 = gitRun(t, repo, "rev-parse", "HEAD")
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("these tests need git's http-backend: %v", err)
	}
	srv := httptest.NewServer(&cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	t.Cleanup(srv.Close)
	return srv.URL + "/repo.git", c1, c2
}

func TestResolveAndCheckout(t *testing.T) {
	url, c1, c2 := serveRepo(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, src, commit string
		keep              bool
		want              map[string]string // file → content, under the returned dir
	}{
		{"head", url, c2, false, map[string]string{"README": "two\n", "sub/f.txt": "sub one\n"}},
		{"branch", url + "#main", c2, false, map[string]string{"README": "two\n"}},
		{"annotated tag", url + "#v1", c1, false, map[string]string{"README": "one\n"}},
		{"commit", url + "#" + c1, c1, false, map[string]string{"README": "one\n"}},
		{"subdir", url + "#v1:sub", c1, false, map[string]string{"f.txt": "sub one\n"}},
		{"keep .git", url + "#main", c2, true, map[string]string{"README": "two\n", ".git/HEAD": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			commit, err := Resolve(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if commit != tc.commit {
				t.Errorf("Resolve = %s, want %s", commit, tc.commit)
			}
			dir, err := Checkout(ctx, src, commit, filepath.Join(t.TempDir(), "co"), CheckoutOptions{KeepGitDir: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tc.want {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Errorf("%s: %v", name, err)
				} else if want != "" && string(got) != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, ".git")); !tc.keep && err == nil {
				t.Errorf(".git kept without KeepGitDir")
			}
		})
	}
	t.Run("missing ref", func(t *testing.T) {
		src, _ := Parse(url + "#nope")
		if _, err := Resolve(ctx, src); err == nil || !strings.Contains(err.Error(), "no such branch or tag") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("missing subdir", func(t *testing.T) {
		src, _ := Parse(url + "#v1:nope")
		_, err := Checkout(ctx, src, c1, filepath.Join(t.TempDir(), "co"), CheckoutOptions{})
		if err == nil || !strings.Contains(err.Error(), "has no directory nope") {
			t.Errorf("error = %v", err)
		}
	})
}
