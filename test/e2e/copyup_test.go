package e2e

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeCopyUp: a COPY of 50 MB and a later RUN chmod -R is reported
// as 50 MB of copy-up at the chmod's line, with the COPY --chmod fix.
func TestAnalyzeCopyUp(t *testing.T) {
	s := newStrata(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox:latest\nCOPY data /data\nRUN chmod -R 755 /data\n"})
	blob := make([]byte, 25<<20)
	for _, name := range []string{"data/a", "data/b"} {
		if _, err := rand.Read(blob); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), blob, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.must("build", "-t", "copyup:1", dir)
	df := filepath.Join(dir, "Dockerfile")
	out := s.must("analyze", "--no-compressed", "--json", "--dockerfile", df, "copyup:1").stdout
	var rep struct {
		Findings []struct {
			Kind    string   `json:"kind"`
			Line    int      `json:"line"`
			Bytes   int64    `json:"bytes"`
			Paths   []string `json:"paths"`
			Message string   `json:"message"`
			Fix     string   `json:"fix"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("analyze --json: %v\n%s", err, out)
	}
	found := false
	for _, fd := range rep.Findings {
		if fd.Kind == "overwritten" {
			t.Errorf("the chmod is also reported as an overwrite: %+v", fd)
		}
		if fd.Kind != "copy-up" {
			continue
		}
		found = true
		if fd.Line != 3 || fd.Bytes != 50<<20 {
			t.Errorf("copy-up at line %d of %d bytes, want line 3 and %d bytes", fd.Line, fd.Bytes, 50<<20)
		}
		if !strings.Contains(fd.Fix, "COPY --chmod") || !strings.Contains(fd.Fix, "Dockerfile:2") {
			t.Errorf("fix %q does not name COPY --chmod at Dockerfile:2", fd.Fix)
		}
		if !strings.Contains(fd.Message, "2 with a new mode") {
			t.Errorf("message %q does not say the mode changed", fd.Message)
		}
	}
	if !found {
		t.Fatalf("no copy-up finding:\n%s", out)
	}
	text := s.must("analyze", "--no-compressed", "--dockerfile", df, "copyup:1").stdout
	if !strings.Contains(text, "52.4MB are in the image twice") {
		t.Errorf("analyze text does not report the 52.4MB copied up:\n%s", text)
	}
}
