package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSizesAsDocker loads strata's images into a private dockerd and checks
// that `strata history` and `strata images` show the sizes docker shows for
// the same image ID: a layer's content bytes (a WORKDIR layer is 0 B), not
// its tar's; and `history -q` lists the same IDs.
func TestSizesAsDocker(t *testing.T) {
	d := startDockerd(t)
	s := newStrata(t)
	s.must("build", "--progress", "plain", "-t", "sizes:1", writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nWORKDIR /app\nCOPY f.txt /app/\nRUN echo hello > /app/g && ln -s /app/g /app/link\n",
		"f.txt":      strings.Repeat("x", 3000),
	}))
	archive := filepath.Join(t.TempDir(), "images.tar")
	s.must("save", "-o", archive, "busybox:latest", "sizes:1")
	d.must("load", "-i", archive)
	for _, tc := range []struct {
		name, image string
	}{
		{"busybox", "busybox:latest"},
		{"WORKDIR COPY RUN", "sizes:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format := "{{.Size}}\t{{.CreatedBy}}"
			got := s.must("history", "--no-trunc", "-H=false", "--format", format, tc.image).stdout
			want := d.must("history", "--no-trunc", "-H=false", "--format", format, tc.image)
			if got != want {
				t.Errorf("strata history:\n%s\ndocker history:\n%s", got, want)
			}
			t.Logf("strata history:\n%sdocker history:\n%s", // the figures, for a reader of -v
				s.must("history", "--format", format, tc.image).stdout, d.must("history", "--format", format, tc.image))
			got = s.must("history", "-q", tc.image).stdout
			want = d.must("history", "-q", tc.image)
			if got != want {
				t.Errorf("strata history -q:\n%s\ndocker history -q:\n%s", got, want)
			}
			got = s.must("images", "--format", "{{.Size}}", tc.image).stdout
			want = d.must("images", "--format", "{{.Size}}", tc.image)
			if got != want {
				t.Errorf("strata images shows %q, docker %q", got, want)
			}
			got = s.must("inspect", "--format", "{{.Size}}", tc.image).stdout
			want = d.must("image", "inspect", "--format", "{{.Size}}", tc.image)
			if got != want {
				t.Errorf("strata inspect shows size %q, docker %q", got, want)
			}
		})
	}
}
