package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dockerunits "github.com/docker/go-units"
)

// dfJSON is `strata df --json`.
type dfJSON struct {
	Disk        map[string]int64
	Reclaimable []struct {
		Command string
		Bytes   int64
	}
	Garbage int64
}

// duApparent is `du -sb --apparent-size dir`: every inode's st_size once
// (hard links once), directories included.
func duApparent(t *testing.T, dir string) int64 {
	t.Helper()
	out, err := exec.Command("du", "-sb", "--apparent-size", dir).Output()
	if err != nil {
		t.Fatalf("du -sb --apparent-size %s: %v", dir, err)
	}
	n, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		t.Fatalf("du output %q: %v", out, err)
	}
	return n
}

// TestDfMatchesDu: df accounts for every byte under the store root as du
// counts it (a hard-linked file once), its parts add up to that total, and
// each prune command then frees, by du, exactly what df said it would, and
// says so. The commands run one after another on one store, each freeing
// something.
func TestDfMatchesDu(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\n" +
		"RUN --mount=type=cache,target=/c dd if=/dev/zero of=/c/blob bs=1k count=30 2>/dev/null\n" +
		"RUN dd if=/dev/zero of=/big bs=1k count=200 2>/dev/null && ln /big /big.link\n" +
		"WORKDIR /w\n"
	// a context old enough for its file hashes to be kept in the store
	// (context-hashes/, build cache: builder prune removes it)
	copied := bldContext(t, "FROM busybox\nCOPY . /ctx\n", map[string]string{"a": "a", "b": "b"})
	time.Sleep(2100 * time.Millisecond)
	s.must("build", "-q", "-t", "copied", copied)
	if ents, err := os.ReadDir(filepath.Join(s.root, "context-hashes")); err != nil || len(ents) != 1 {
		t.Fatalf("context-hashes after a build of an old context: %d entries (%v), want 1", len(ents), err)
	}
	s.must("build", "-q", "-t", "kept", bldContext(t, df, nil))
	s.must("build", "-q", bldContext(t, "FROM busybox\nRUN dd if=/dev/zero of=/d bs=1k count=50 2>/dev/null\n", nil))
	s.must("build", "-q", "-t", "other", bldContext(t, "FROM busybox\nRUN echo other > /o\n", nil))

	for _, command := range []string{"image prune", "builder prune", "builder prune -a", "image prune -a"} {
		t.Run(command, func(t *testing.T) { dfCheckPrune(t, s, command) })
		if ents, _ := os.ReadDir(filepath.Join(s.root, "context-hashes")); command == "builder prune" && len(ents) != 0 {
			t.Errorf("builder prune left %d context hash caches", len(ents))
		}
	}
	if got := s.must("images", "-q").stdout; got != "" {
		t.Errorf("image prune -a left images:\n%s", got)
	}

	// Again for the top-level prune, which frees the dangling image and the
	// cache, then with -a (docker system prune -a) every image and the
	// cache mounts.
	s.must("import", env.busyboxTar, "busybox:latest") // image prune -a removed it
	s.must("build", "-q", "-t", "kept", bldContext(t, df, nil))
	s.must("build", "-q", bldContext(t, "FROM busybox\nRUN dd if=/dev/zero of=/d bs=1k count=50 2>/dev/null\n", nil))
	for _, command := range []string{"prune", "prune -a"} {
		t.Run(command, func(t *testing.T) { dfCheckPrune(t, s, command) })
	}
	if got := s.must("images", "-q").stdout; got != "" {
		t.Errorf("prune -a left images:\n%s", got)
	}
	var d dfJSON
	if err := json.Unmarshal([]byte(s.must("df", "--json").stdout), &d); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"images", "buildCache", "cacheMounts"} {
		if d.Disk[part] != 0 {
			t.Errorf("after prune -a, df %s = %d bytes, want 0", part, d.Disk[part])
		}
	}
}

// dfCheckPrune checks that df's total is du's, that its parts add up to
// it, and that the prune command then frees by du what df said it would,
// and says so.
func dfCheckPrune(t *testing.T, s *strata, command string) {
	t.Helper()
	var d dfJSON
	if err := json.Unmarshal([]byte(s.must("df", "--json").stdout), &d); err != nil {
		t.Fatal(err)
	}
	before := duApparent(t, s.root)
	if got := d.Disk["total"]; got != before {
		t.Errorf("df total = %d bytes, du -sb --apparent-size = %d", got, before)
	}
	var sum int64
	for k, n := range d.Disk {
		if k != "total" {
			sum += n
		}
	}
	if sum != d.Disk["total"] {
		t.Errorf("df parts add up to %d, total is %d: %v", sum, d.Disk["total"], d.Disk)
	}
	want := int64(-1)
	for _, r := range d.Reclaimable {
		if r.Command == command {
			want = r.Bytes
		}
	}
	if want <= 0 {
		t.Fatalf("df says %q frees %d bytes: the test wants each command to free something: %+v", command, want, d.Reclaimable)
	}
	out := s.must(append(strings.Fields(command), "-f")...).stdout
	if got := before - duApparent(t, s.root); got != want {
		t.Errorf("%s freed %d bytes by du, df said %d", command, got, want)
	}
	if !strings.Contains(out, "Total reclaimed space: "+dockerunits.HumanSizeWithPrecision(float64(want), 3)+"\n") {
		t.Errorf("%s reports, df said %s:\n%s", command, dockerunits.HumanSizeWithPrecision(float64(want), 3), out)
	}
}

// TestBuilderPruneKeepStorage: builder prune --keep-storage keeps the
// newest cache records that fit in the size, and df's build cache then
// fits in it.
func TestBuilderPruneKeepStorage(t *testing.T) {
	s := newStrata(t)
	for _, kb := range []string{"300", "200"} { // the older one is the larger
		s.must("build", "-q", "-t", "c:"+kb, bldContext(t, "FROM busybox\nRUN dd if=/dev/zero of=/f bs=1k count="+kb+" 2>/dev/null\n", nil))
		s.must("rmi", "c:"+kb) // its layer is now the cache's alone
	}
	cache := func() int64 {
		var d dfJSON
		if err := json.Unmarshal([]byte(s.must("df", "--json").stdout), &d); err != nil {
			t.Fatal(err)
		}
		return d.Disk["buildCache"]
	}
	before := cache()
	const keep = 600 << 10
	s.must("builder", "prune", "-f", "--keep-storage", "600KB")
	after := cache()
	if after <= 0 || after > keep || after >= before {
		t.Errorf("build cache %d bytes before, %d after --keep-storage 600KB (%d): want the newest records kept, within it", before, after, keep)
	}
	s.must("builder", "prune", "-f", "--keep-storage", "1KB")
	if got := cache(); got != 0 {
		t.Errorf("--keep-storage 1KB left %d bytes of build cache", got)
	}
	if r := s.run("builder", "prune", "-f", "--keep-storage", "lots"); r.code == 0 || !strings.Contains(r.stderr, `--keep-storage "lots": want a size`) {
		t.Errorf("--keep-storage lots: exit %d, %s", r.code, r.stderr)
	}
}
