package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestPullPushProgressAndRepoDigests pushes and pulls on a terminal (a pty
// made by script(1)) and checks docker's live bars are drawn, then that a pull
// by tag records the digest it pulled (RepoDigests) as docker does.
func TestPullPushProgressAndRepoDigests(t *testing.T) {
	host := startRegistry(t)
	s := newStrata(t)
	ref := host + "/e2e/progress:v1"

	onTTY := func(args ...string) string {
		t.Helper()
		line := env.bin + " --root " + s.root + " " + strings.Join(args, " ")
		out, err := exec.Command("script", "-qec", line, "/dev/null").CombinedOutput()
		if err != nil {
			t.Fatalf("%s on a terminal: %v\n%s", line, err, out)
		}
		return string(out)
	}
	push := onTTY("push", "busybox:latest", ref)
	for _, want := range []string{"Pushing", "[", "\x1b[2K", ": Pushed"} {
		if !strings.Contains(push, want) {
			t.Errorf("push on a terminal printed %q, which lacks %q", push, want)
		}
	}

	s2 := newStrata(t)
	s2.must("rmi", "busybox:latest")
	s = s2
	pull := onTTY("pull", ref)
	for _, want := range []string{"Downloading", "[", "\x1b[2K", ": Pull complete", "Status: Downloaded newer image for " + ref} {
		if !strings.Contains(pull, want) {
			t.Errorf("pull on a terminal printed %q, which lacks %q", pull, want)
		}
	}
	// Without a terminal: docker's plain status lines, no escapes.
	plain := s2.must("pull", ref).stdout
	if strings.Contains(plain, "\x1b") || !strings.Contains(plain, ": Already exists\n") {
		t.Errorf("pull without a terminal printed %q", plain)
	}

	var ii []struct {
		RepoTags    []string
		RepoDigests []string
	}
	if err := json.Unmarshal([]byte(s2.must("inspect", ref).stdout), &ii); err != nil {
		t.Fatal(err)
	}
	digest := strings.TrimSpace(s2.must("images", "--digests", "--format", "{{.Digest}}", ref).stdout)
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("images --digests shows %q for %s", digest, ref)
	}
	if len(ii) != 1 || len(ii[0].RepoDigests) != 1 || ii[0].RepoDigests[0] != host+"/e2e/progress@"+digest {
		t.Errorf("inspect after pull by tag: %+v, want RepoDigests [%s/e2e/progress@%s]", ii, host, digest)
	}
	// The digest name leaves with the repository's last tag.
	out := s2.must("rmi", ref).stdout
	if want := "Untagged: " + ref + "\nUntagged: " + host + "/e2e/progress@" + digest + "\nDeleted: "; !strings.HasPrefix(out, want) {
		t.Errorf("rmi printed %q, want it to start %q", out, want)
	}
}
