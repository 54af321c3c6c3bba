package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os/exec"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// inTar makes a tar of files (name → content), directories implied.
func inTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range sortedNames(files) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// inCompress compresses data with a command-line tool or library by name.
func inCompress(t *testing.T, alg string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch alg {
	case "none":
		return data
	case "gzip":
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(data)
		zw.Close()
	case "bzip2", "xz":
		cmd := exec.Command(alg, "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s -c (apt-get install %s): %v", alg, map[string]string{"bzip2": "bzip2", "xz": "xz-utils"}[alg], err)
		}
		return out
	}
	return buf.Bytes()
}

func sortedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestBuildContextFromStdin: strata build - reads a tar context from
// stdin, plain or compressed (told by its first bytes), with the
// Dockerfile (or -f's) inside it, taken whole (its .dockerignore is not
// applied, as in docker and BuildKit); stdin that is no tar is a
// Dockerfile alone.
func TestBuildContextFromStdin(t *testing.T) {
	s := newStrata(t)
	ctxTar := inTar(t, map[string]string{
		"Dockerfile":         "FROM busybox\nCOPY . /ctx/\nRUN cat /ctx/sub/data.txt > /seen\n",
		"alt/app.Dockerfile": "FROM busybox\nCOPY sub/data.txt /alt\n",
		"sub/data.txt":       "from the tar\n",
		"secret.key":         "kept out\n",
		".dockerignore":      "secret.key\n",
	})
	for _, alg := range []string{"none", "gzip", "bzip2", "xz", "zstd"} {
		t.Run(alg, func(t *testing.T) {
			tag := "stdin-" + alg
			r := s.runIn(inCompress(t, alg, ctxTar), "build", "-t", tag, "-")
			if r.code != 0 {
				t.Fatalf("build - < context.tar (%s): exit %d\n%s", alg, r.code, r.stderr)
			}
			e := bldExport(t, s, tag)
			if got := bldFile(t, e, "seen"); got != "from the tar\n" {
				t.Errorf("/seen = %q", got)
			}
			// as docker and BuildKit: a tar context is taken whole, its
			// .dockerignore applies to local directories only
			if got := bldFile(t, e, "ctx/secret.key"); got != "kept out\n" {
				t.Errorf("/ctx/secret.key = %q, want the tar's file (no .dockerignore for a tar context)", got)
			}
		})
	}
	t.Run("-f inside the tar", func(t *testing.T) {
		r := s.runIn(inCompress(t, "gzip", ctxTar), "build", "-t", "stdin-alt", "-f", "alt/app.Dockerfile", "-")
		if r.code != 0 {
			t.Fatalf("build -f alt/app.Dockerfile - < context.tar.gz: exit %d\n%s", r.code, r.stderr)
		}
		if got := bldFile(t, bldExport(t, s, "stdin-alt"), "alt"); got != "from the tar\n" {
			t.Errorf("/alt = %q", got)
		}
	})
	t.Run("Dockerfile alone", func(t *testing.T) {
		r := s.runIn([]byte("FROM busybox\nRUN echo alone > /alone\n"), "build", "-t", "stdin-df", "-")
		if r.code != 0 {
			t.Fatalf("build - < Dockerfile: exit %d\n%s", r.code, r.stderr)
		}
		if got := bldFile(t, bldExport(t, s, "stdin-df"), "alone"); got != "alone\n" {
			t.Errorf("/alone = %q", got)
		}
	})
	for _, tt := range []struct {
		name  string
		stdin []byte
		args  []string
		want  string
	}{
		{"both stdin", ctxTar, []string{"-f", "-", "-"}, "the context and -f cannot both be stdin"},
		{"no Dockerfile in the tar", inTar(t, map[string]string{"a": "a"}), []string{"-"}, "Dockerfile"},
		{"-f with a Dockerfile alone", []byte("FROM busybox\n"), []string{"-f", "x", "-"}, "stdin held a Dockerfile, not a context tar"},
		{"a URL that is no git repository", nil, []string{"https://example.invalid/ctx.tar.gz"}, "a URL context must be a git repository"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.runIn(tt.stdin, append([]string{"build"}, tt.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("build %v: exit %d, stderr %q; want a failure saying %q", tt.args, r.code, r.stderr, tt.want)
			}
		})
	}
}

// TestBuildContextFromGit: a git URL is the context, its #ref:subdir as
// BuildKit reads it (a tag, a branch, a subdirectory), -f inside it.
func TestBuildContextFromGit(t *testing.T) {
	url, repo, _ := agitServe(t)
	agitWrite(t, repo, "Dockerfile", "FROM busybox\nCOPY README /readme\n")
	agitWrite(t, repo, "sub/Dockerfile", "FROM busybox\nCOPY f.txt /f\n")
	agitWrite(t, repo, "sub/other.Dockerfile", "FROM busybox\nCOPY f.txt /other\n")
	agitRun(t, repo, "add", "-A")
	agitRun(t, repo, "commit", "-q", "-m", "dockerfiles")
	agitRun(t, repo, "tag", "v2")
	agitWrite(t, repo, "README", "main moved\n")
	agitRun(t, repo, "commit", "-q", "-am", "three")
	s := newStrata(t)
	tests := []struct {
		name, url string
		args      []string
		file      string
		want      string
	}{
		{"tag", url + "#v2", nil, "readme", "v1\n"},
		{"branch", url + "#main", nil, "readme", "main moved\n"},
		{"default branch", url, nil, "readme", "main moved\n"},
		{"subdir", url + "#v2:sub", nil, "f", "sub v1\n"},
		{"-f inside the subdir", url + "#v2:sub", []string{"-f", "other.Dockerfile"}, "other", "sub v1\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := "git" + string(rune('a'+i))
			s.must(append(append([]string{"build", "-t", tag}, tt.args...), tt.url)...)
			if got := bldFile(t, bldExport(t, s, tag), tt.file); got != tt.want {
				t.Errorf("/%s = %q, want %q", tt.file, got, tt.want)
			}
		})
	}
	r := s.run("build", url+"#nosuchref")
	if r.code == 0 || !strings.Contains(r.stderr, "no such branch or tag") {
		t.Errorf("build of a missing ref: exit %d, stderr %q", r.code, r.stderr)
	}
}
