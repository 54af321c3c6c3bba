package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// squashDockerfile makes a big file, deletes it with a base file, and adds
// a small one: the non-squashed image carries the big file's bytes.
const squashDockerfile = "FROM busybox\n" +
	"ENV FOO=bar\n" +
	"RUN dd if=/dev/zero of=/big bs=1024 count=2048 2>/dev/null && echo kept > /keep\n" +
	"RUN rm /big /etc/group\n" +
	"RUN echo x > /x\n" +
	"CMD [\"cat\", \"/x\"]\n"

// squashInspect is what the tests read of `strata inspect`.
type squashInspect struct {
	ID     string `json:"Id"`
	Size   int64
	Config struct {
		Cmd []string
		Env []string
	}
	RootFS struct{ Layers []string }
}

func squashInspectOf(t *testing.T, s *strata, ref string) squashInspect {
	t.Helper()
	var out []squashInspect
	if err := json.Unmarshal([]byte(s.must("inspect", ref).stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("strata inspect %s: %v (%d images)", ref, err, len(out))
	}
	return out[0]
}

// squashHistoryLen counts the history entries `strata history` shows.
func squashHistoryLen(t *testing.T, s *strata, ref string) int {
	t.Helper()
	return len(strings.Split(strings.TrimSpace(s.must("history", "--format", "{{.CreatedBy}}", ref).stdout), "\n"))
}

// squashBuild builds the squash Dockerfile as the three images the tests
// compare: plain, --squash and --squash-all.
func squashBuild(t *testing.T) *strata {
	t.Helper()
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": squashDockerfile})
	s.must("build", "-q", "-t", "sq-plain", ctx)
	s.must("build", "-q", "-t", "sq", "--squash", ctx)
	s.must("build", "-q", "-t", "sq-all", "--squash-all", ctx)
	return s
}

func TestSquashBuild(t *testing.T) {
	s := squashBuild(t)
	base, plain, sq, all := squashInspectOf(t, s, "busybox"), squashInspectOf(t, s, "sq-plain"), squashInspectOf(t, s, "sq"), squashInspectOf(t, s, "sq-all")

	// --squash: the base's layer is kept as is, the three RUN layers are one.
	if len(sq.RootFS.Layers) != 2 || sq.RootFS.Layers[0] != base.RootFS.Layers[0] {
		t.Errorf("--squash layers %v, want busybox's %v and one more", sq.RootFS.Layers, base.RootFS.Layers)
	}
	if sq.Size > plain.Size-2<<20 || sq.Size <= base.Size { // content bytes: the file is exactly 2MiB
		t.Errorf("--squash image size %d, want above busybox's %d and at most the plain image's %d less the 2MiB file", sq.Size, base.Size, plain.Size)
	}
	for _, ref := range []string{"sq", "sq-all"} {
		if got, want := squashHistoryLen(t, s, ref), squashHistoryLen(t, s, "sq-plain"); got != want {
			t.Errorf("%s has %d history entries, the plain image %d", ref, got, want)
		}
		if got := s.must("run", "--rm", ref).stdout; got != "x\n" {
			t.Errorf("strata run --rm %s printed %q, want %q (its CMD)", ref, got, "x\n")
		}
		files := bldExport(t, s, ref)
		for _, p := range []string{"big", "etc/group"} {
			if _, ok := files[p]; ok {
				t.Errorf("%s has /%s, which a RUN deleted", ref, p)
			}
		}
		if got := bldFile(t, files, "keep"); got != "kept\n" {
			t.Errorf("%s: /keep = %q", ref, got)
		}
		if _, ok := files["etc/passwd"]; !ok {
			t.Errorf("%s lost busybox's /etc/passwd", ref)
		}
	}
	if r := s.run("run", "--rm", "sq", "ls", "/etc/group"); r.code == 0 {
		t.Errorf("in the --squash image /etc/group is back: the squashed layer lost the whiteout of a base file")
	}

	// --squash-all: one layer, the config kept.
	if len(all.RootFS.Layers) != 1 {
		t.Errorf("--squash-all layers %v, want one", all.RootFS.Layers)
	}
	if diff := cmp.Diff(all.Config.Cmd, []string{"cat", "/x"}); diff != "" {
		t.Errorf("--squash-all CMD (-got +want):\n%s", diff)
	}
	if !strings.Contains(strings.Join(all.Config.Env, " "), "FOO=bar") {
		t.Errorf("--squash-all Env %v lost FOO=bar", all.Config.Env)
	}
	if got := s.must("run", "--rm", "sq-all", "sh", "-c", "echo $FOO").stdout; got != "bar\n" {
		t.Errorf("FOO in the --squash-all image = %q", got)
	}

	// strata squash of the plain image gives the layers --squash made,
	// byte for byte; --all those --squash-all made. (The image is a new
	// one, with its own creation time: TestSquashHasItsOwnCreationTime.)
	again := strings.TrimSpace(s.must("squash", "-q", "sq-plain", "-t", "sq-again").stdout)
	if got := squashInspectOf(t, s, again).RootFS.Layers; !cmp.Equal(got, sq.RootFS.Layers) {
		t.Errorf("strata squash sq-plain made layers %v, build --squash %v", got, sq.RootFS.Layers)
	}
	allAgain := strings.TrimSpace(s.must("squash", "-q", "--all", "sq-plain", "-t", "sq-all-again").stdout)
	if got := squashInspectOf(t, s, allAgain).RootFS.Layers; !cmp.Equal(got, all.RootFS.Layers) {
		t.Errorf("strata squash --all sq-plain made layers %v, build --squash-all %v", got, all.RootFS.Layers)
	}
	from2 := strings.TrimSpace(s.must("squash", "-q", "--from", "2", "sq-plain", "-t", "sq-from2").stdout)
	if got := squashInspectOf(t, s, from2).RootFS.Layers; len(got) != 3 || got[1] != plain.RootFS.Layers[1] {
		t.Errorf("squash --from 2: layers %v, want the plain image's first two and one more", got)
	}
	if r := s.run("squash", "sq-plain", "--from", "9", "-t", "bad"); r.code == 0 || !strings.Contains(r.stderr, "has 4") {
		t.Errorf("squash --from 9 of a 4-layer image: exit %d, %q; want an error naming the 4 layers", r.code, r.stderr)
	}
}

func TestSquashNeedsAKnownBase(t *testing.T) {
	s := squashBuild(t)
	s.must("rmi", "busybox")
	r := s.run("squash", "sq-plain", "-t", "x")
	if r.code == 0 || !strings.Contains(r.stderr, "--from N") {
		t.Errorf("squash without a stored base: exit %d, %q; want an error asking for --from or --all", r.code, r.stderr)
	}
}

func TestSquashImagesShared(t *testing.T) {
	s := squashBuild(t)
	base := squashInspectOf(t, s, "busybox")
	var rows []struct{ Repository, Size, SharedSize, UniqueSize string }
	for _, l := range strings.Split(strings.TrimSpace(s.must("images", "--shared", "--format", "{{json .}}").stdout), "\n") {
		var r struct{ Repository, Size, SharedSize, UniqueSize string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("images --shared line %q: %v", l, err)
		}
		rows = append(rows, r)
	}
	byRepo := map[string]struct{ Repository, Size, SharedSize, UniqueSize string }{}
	for _, r := range rows {
		byRepo[r.Repository] = r
	}
	bb := byRepo["busybox"]
	if bb.SharedSize != bb.Size || bb.UniqueSize != "0B" {
		t.Errorf("busybox row %+v: want all of it shared", bb)
	}
	for _, repo := range []string{"sq", "sq-plain"} {
		if r := byRepo[repo]; r.SharedSize != bb.Size || r.UniqueSize == "0B" {
			t.Errorf("%s row %+v: want busybox's %s shared and some bytes of its own", repo, r, bb.Size)
		}
	}
	if r := byRepo["sq-all"]; r.SharedSize != "0B" {
		t.Errorf("sq-all row %+v: a one-layer image shares nothing", r)
	}
	out := s.must("images", "--shared").stdout
	if !strings.Contains(out, "SHARED SIZE") || !strings.Contains(out, "UNIQUE SIZE") {
		t.Errorf("images --shared has no SHARED SIZE / UNIQUE SIZE columns:\n%s", out)
	}
	var sums []struct {
		RepoTags   []string
		Size       int64
		SharedSize int64
	}
	if err := json.Unmarshal([]byte(s.must("images", "--shared", "--json", "busybox").stdout), &sums); err != nil || len(sums) != 1 {
		t.Fatalf("images --shared --json busybox: %v, %d records", err, len(sums))
	}
	if sums[0].SharedSize != base.Size {
		t.Errorf("busybox SharedSize %d in JSON, want its size %d", sums[0].SharedSize, base.Size)
	}
}

func TestSquashDiff(t *testing.T) {
	s := squashBuild(t)
	got := s.must("diff", "busybox", "sq").stdout
	want := "D /etc/group  (54B)\nA /keep  (5B)\nA /x  (2B)\n2 added (7B), 1 deleted (54B), 0 changed (0B -> 0B)\n"
	if got != want {
		t.Errorf("strata diff busybox sq:\n%s\nwant:\n%s", got, want)
	}
	if got := s.must("diff", "sq-plain", "sq").stdout; got != "0 added (0B), 0 deleted (0B), 0 changed (0B -> 0B)\n" {
		t.Errorf("strata diff between the plain and the squashed image:\n%s\nwant no change", got)
	}
	var res struct {
		Changes []struct {
			Kind, Path, Type string
			Size             int64
		}
		Summary struct{ Added, Deleted, Changed int }
	}
	if err := json.Unmarshal([]byte(s.must("diff", "--json", "sq", "busybox").stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Summary.Added != 1 || res.Summary.Deleted != 2 || len(res.Changes) != 3 || res.Changes[0].Kind != "A" || res.Changes[0].Path != "/etc/group" {
		t.Errorf("strata diff --json sq busybox = %+v, want /etc/group added, /keep and /x deleted", res)
	}
}

func TestSquashDockerLoad(t *testing.T) {
	d := startDockerd(t)
	s := squashBuild(t)
	archive := filepath.Join(t.TempDir(), "sq.tar")
	s.must("save", "-o", archive, "sq", "sq-all")
	if out := d.must("load", "-i", archive); !strings.Contains(out, "Loaded image: sq:latest") || !strings.Contains(out, "Loaded image: sq-all:latest") {
		t.Errorf("docker load printed %q, want it to name sq and sq-all", out)
	}
	for _, ref := range []string{"sq", "sq-all"} {
		if got, want := strings.TrimSpace(d.must("image", "inspect", "--format", "{{.Id}}", ref)), squashInspectOf(t, s, ref).ID; got != want {
			t.Errorf("%s: docker's image ID %s, strata's %s", ref, got, want)
		}
		if got := d.must("run", "--rm", "--network", "none", ref); got != "x\n" {
			t.Errorf("docker run %s printed %q, want %q", ref, got, "x\n")
		}
		if got := d.must("run", "--rm", "--network", "none", ref, "sh", "-c", "cat /keep; ls /big /etc/group 2>/dev/null; echo $?"); got != "kept\n1\n" {
			t.Errorf("docker run %s: /keep and the deleted files printed %q", ref, got)
		}
	}
}
