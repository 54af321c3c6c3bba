package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestImageNaming: an image ID prefix as short as docker takes names the
// image in inspect, history, run and tag; inspect of several names prints
// what it found and then an error for the rest; history -q prints the
// layer IDs; import -m sets the history comment and import records the
// tarball's base name, never its host path.
func TestImageNaming(t *testing.T) {
	s := newStrata(t)
	id := strings.TrimPrefix(strings.TrimSpace(s.must("inspect", "-f", "{{.Id}}", "busybox").stdout), "sha256:")
	// The store holds one image, so any prefix is unambiguous.
	for _, prefix := range []string{id[:2], id[:1], id[:12], "sha256:" + id} {
		t.Run("prefix "+prefix, func(t *testing.T) {
			if got := strings.TrimSpace(s.must("inspect", "-f", "{{.Id}}", prefix).stdout); got != "sha256:"+id {
				t.Errorf("inspect %s = %s, want sha256:%s", prefix, got, id)
			}
			if got := s.must("history", "-q", prefix).stdout; got != id[:12]+"\n" {
				t.Errorf("history -q %s = %q, want %q", prefix, got, id[:12]+"\n")
			}
		})
	}
	if got := s.must("run", "--rm", id[:3], "echo", "ok").stdout; got != "ok\n" {
		t.Errorf("run of a prefix: %q", got)
	}
	s.must("tag", id[:4], "again:1")

	r := s.run("inspect", "busybox", "nosuch", "again:1")
	if r.code != 1 || !strings.Contains(r.stderr, "no such image: nosuch:latest") {
		t.Errorf("inspect with one unknown name: exit %d, stderr %q", r.code, r.stderr)
	}
	var list []struct{ Id string }
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 2 {
		t.Errorf("inspect printed %d images (%v), want the 2 it found:\n%s", len(list), err, r.stdout)
	}

	s.must("import", "-m", "vendor base", env.busyboxTar, "vendor:1")
	if got := s.must("history", "--format", "{{.Comment}}", "vendor:1").stdout; got != "vendor base\n" {
		t.Errorf("import -m: history comment %q", got)
	}
	if got := s.must("history", "--format", "{{.Comment}}", "busybox").stdout; got != "Imported from busybox.tar\n" {
		t.Errorf("import: history comment %q, want the tarball's base name", got)
	}
	tarball, err := os.ReadFile(env.busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.runIn(tarball, "import", "--change", `CMD ["echo", "changed"]`, "-", "fromstdin:1"); r.code != 0 {
		t.Fatalf("import -: exit %d: %s", r.code, r.stderr)
	}
	if got := s.must("run", "--rm", "fromstdin:1").stdout; got != "changed\n" {
		t.Errorf("import --change CMD: run printed %q", got)
	}
	if got := s.must("history", "--format", "{{.Comment}}", "fromstdin:1").stdout; got != "Imported from -\n" {
		t.Errorf("import from stdin: history comment %q", got)
	}
}
