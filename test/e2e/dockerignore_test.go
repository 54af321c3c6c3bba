package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDockerfileSpecificIgnoreFile builds with -f naming a Dockerfile that
// is not at the top of the context, or outside it, as docker allows: the
// ignore file beside it, <Dockerfile>.dockerignore, is the one in effect
// (the context's .dockerignore is not), so the file it excludes never
// reaches the image.
func TestDockerfileSpecificIgnoreFile(t *testing.T) {
	const df = "FROM busybox\nCOPY . /app/\n"
	for _, tc := range []struct {
		name    string
		files   map[string]string // the context
		outside map[string]string // a directory beside the context
		cwd     string            // "ctx" or "outside": where strata runs
		file    string            // -f, relative to cwd
		wantApp []string
	}{
		{
			name: "beside -f sub/app.Dockerfile",
			files: map[string]string{"sub/app.Dockerfile": df, "sub/app.Dockerfile.dockerignore": "secret.txt\n",
				".dockerignore": "keep.txt\n", "secret.txt": "SECRET\n", "keep.txt": "keep\n"},
			cwd:     "ctx",
			file:    "sub/app.Dockerfile",
			wantApp: []string{".dockerignore", "keep.txt", "sub", "sub/app.Dockerfile", "sub/app.Dockerfile.dockerignore"},
		},
		{
			name: "-f sub/app.Dockerfile without one: the context's",
			files: map[string]string{"sub/app.Dockerfile": df, ".dockerignore": "secret.txt\n",
				"secret.txt": "SECRET\n", "keep.txt": "keep\n"},
			cwd:     "ctx",
			file:    "sub/app.Dockerfile",
			wantApp: []string{".dockerignore", "keep.txt", "sub", "sub/app.Dockerfile"},
		},
		{
			name:    "beside a Dockerfile outside the context",
			files:   map[string]string{".dockerignore": "keep.txt\n", "secret.txt": "SECRET\n", "keep.txt": "keep\n"},
			outside: map[string]string{"app.Dockerfile": df, "app.Dockerfile.dockerignore": "secret.txt\n"},
			cwd:     "outside",
			file:    "app.Dockerfile",
			wantApp: []string{".dockerignore", "keep.txt"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStrata(t)
			ctxDir := writeContext(t, tc.files)
			outDir := t.TempDir()
			if tc.outside != nil {
				outDir = writeContext(t, tc.outside)
			}
			dir, contextArg := ctxDir, "."
			if tc.cwd == "outside" {
				dir, contextArg = outDir, ctxDir
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, env.bin, "--root", s.root, "build", "-t", "ign", "-f", tc.file, contextArg)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("strata build -f %s %s (in %s): %v\n%s", tc.file, contextArg, dir, err, out)
			}
			var got []string
			for name := range bldExport(t, s, "ign") {
				if rest, ok := strings.CutPrefix(name, "app/"); ok {
					got = append(got, rest)
				}
			}
			sort.Strings(got)
			if diff := cmp.Diff(got, tc.wantApp); diff != "" {
				t.Errorf("files under /app (-got +want):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(ctxDir, "secret.txt")); err != nil {
				t.Fatal(err) // the context is left as it was
			}
		})
	}
}
