package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// relFsck is the part of `strata fsck --json` the tests read.
type relFsck struct {
	Blobs, Images, Layers int
	CacheRecords          int `json:"cache_records"`
	Temp                  int
	Problems              []struct{ Kind, Object, Detail string }
}

// relMustFsck runs `strata fsck --json` and fails the test unless the store
// is consistent (exit 0, no problem). Leftover temporary files are allowed.
func relMustFsck(t *testing.T, s *strata, when string) relFsck {
	t.Helper()
	r := s.run("fsck", "--json")
	var rep relFsck
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("fsck %s: exit %d, stdout %q, stderr %q: %v", when, r.code, r.stdout, r.stderr, err)
	}
	if r.code != 0 || len(rep.Problems) != 0 {
		t.Fatalf("fsck %s: exit %d, problems %+v\n%s", when, r.code, rep.Problems, r.stderr)
	}
	return rep
}

// relStrataProcs returns the pids of live processes running the strata
// binary (sandbox inits included: they are re-execs of it) or whose command
// line holds marker.
func relStrataProcs(marker string) []string {
	paths, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, p := range paths {
		exe, _ := os.Readlink(filepath.Join(p, "exe"))
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		if strings.TrimSuffix(exe, " (deleted)") == env.bin || bytes.Contains(cmdline, []byte(marker)) {
			if stat, _ := os.ReadFile(filepath.Join(p, "stat")); bytes.Contains(stat, []byte(") Z ")) {
				continue // a zombie holds nothing
			}
			out = append(out, filepath.Base(p))
		}
	}
	return out
}

var relStepsRE = regexp.MustCompile(`\((\d+) steps, (\d+) cached`)

// relSteps returns the step and cached-step counts a build printed.
func relSteps(t *testing.T, out string) (steps, cached int) {
	t.Helper()
	m := relStepsRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no step count in the build output:\n%s", out)
	}
	steps, _ = strconv.Atoi(m[1])
	cached, _ = strconv.Atoi(m[2])
	return steps, cached
}

func relIID(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestReliabilityKilledBuilds kills `strata build` with SIGINT and SIGKILL
// at random points of a multi-stage build with several RUN and COPY steps.
// After every kill: no process of the build survives, no mount of the store
// is left, fsck finds the store consistent (after SIGINT, tmp/ is empty as
// well). At the end the reference build is still fully cached, with the
// same image ID, and a new build succeeds.
func TestReliabilityKilledBuilds(t *testing.T) {
	s := newStrata(t)
	marker := "relkill" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctxDir := writeContext(t, map[string]string{
		"a.txt": "alpha\n",
		"b.txt": "bravo\n",
		"Dockerfile": fmt.Sprintf(`FROM busybox AS builder
ARG N
COPY a.txt /src/
RUN echo "$N" > /src/n && for i in $(seq 1 100); do echo $i > /src/f$i; done && sleep 0.1 # %[1]s
RUN cat /src/f* /src/n > /src/all && sleep 0.1 # %[1]s
FROM busybox
ARG N
COPY b.txt /b.txt
RUN echo "$N" > /n && dd if=/dev/zero of=/big bs=64k count=32 2>/dev/null && sleep 0.1 # %[1]s
COPY --from=builder /src/all /all
RUN cat /all /n > /done && sleep 0.1 # %[1]s
`, marker),
	})
	iid := filepath.Join(t.TempDir(), "iid")
	r := s.must("build", "--progress", "plain", "--iidfile", iid, "--build-arg", "N=0", "-t", "rel:ref", ctxDir)
	refID := relIID(t, iid)
	// The base is extracted now: time a build of the same steps.
	r = s.must("build", "--progress", "plain", "--build-arg", "N=warm", "-t", "rel:warm", ctxDir)
	normal := r.elapsed
	steps, _ := relSteps(t, r.stdout+r.stderr)
	t.Logf("a build: %d steps in %v", steps, normal)
	tmpBefore := 0

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	const kills = 20
	var survived, leftover, finishedFirst int
	for i := range kills {
		sig := syscall.SIGKILL
		if i%2 == 0 {
			sig = syscall.SIGINT
		}
		delay := time.Duration(rng.Int63n(int64(normal)))
		cmd := exec.Command(env.bin, "--root", s.root, "build", "--progress", "plain", "--build-arg", fmt.Sprintf("N=%d", i+1), "-t", fmt.Sprintf("rel:%d", i+1), ctxDir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			finishedFirst++ // the build beat the kill: fine, and checked the same way
		case <-time.After(delay):
			cmd.Process.Signal(sig)
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("kill %d: strata still ran 15s after %v at %v\n%s", i+1, sig, delay, out.String())
			}
		}
		if !isoWaitFor(5*time.Second, func() bool { return len(relStrataProcs(marker)) == 0 }) {
			t.Fatalf("kill %d (%v at %v): processes survive: %v", i+1, sig, delay, relStrataProcs(marker))
		}
		if !isoWaitFor(5*time.Second, func() bool { return len(mountsUnder(s.root)) == 0 }) {
			t.Fatalf("kill %d (%v at %v): mounts left:\n%s", i+1, sig, delay, strings.Join(mountsUnder(s.root), "\n"))
		}
		rep := relMustFsck(t, s, fmt.Sprintf("after kill %d (%v at %v)", i+1, sig, delay))
		if sig == syscall.SIGINT && rep.Temp != tmpBefore {
			t.Errorf("kill %d (SIGINT at %v): tmp/ went from %d to %d entries\n%s", i+1, delay, tmpBefore, rep.Temp, out.String())
		}
		leftover, tmpBefore = rep.Temp, rep.Temp
		survived++
	}
	t.Logf("kills survived with fsck clean: %d of %d (%d builds finished before their kill); leftover tmp entries after SIGKILLs: %d", survived, kills, finishedFirst, leftover)

	// The cache the kills did not touch still serves the reference build.
	r = s.must("build", "--progress", "plain", "--iidfile", iid, "--build-arg", "N=0", "-t", "rel:ref", ctxDir)
	if steps, cached := relSteps(t, r.stdout+r.stderr); cached != steps {
		t.Errorf("the reference build after the kills: %d of %d steps cached, want all", cached, steps)
	}
	if got := relIID(t, iid); got != refID {
		t.Errorf("the reference build after the kills made %s, want %s", got, refID)
	}
	s.must("build", "--progress", "plain", "--build-arg", "N=final", "-t", "rel:final", ctxDir)
	if got := s.must("run", "--rm", "rel:final", "cat", "/n").stdout; got != "final\n" {
		t.Errorf("rel:final /n = %q", got)
	}
	s.must("fsck", "--repair")
	if rep := relMustFsck(t, s, "at the end"); rep.Temp != 0 {
		t.Errorf("fsck --repair left %d tmp entries", rep.Temp)
	}
}

// TestReliabilityConcurrentBuilds runs four strata processes against one
// store at once: two identical builds of an image already cached, and two
// different cold builds sharing their first steps. All succeed, the
// identical ones give the cached image ID, and fsck finds the store clean.
func TestReliabilityConcurrentBuilds(t *testing.T) {
	s := newStrata(t)
	cached := writeContext(t, map[string]string{
		"f.txt":      "cached\n",
		"Dockerfile": "FROM busybox\nCOPY f.txt /f.txt\nRUN echo cached > /c && sleep 0.2\n",
	})
	iidDir := t.TempDir()
	s.must("build", "--iidfile", filepath.Join(iidDir, "warm"), "-t", "conc:warm", cached)
	cold := func(tail string) string {
		return writeContext(t, map[string]string{
			"g.txt":      "shared\n",
			"Dockerfile": "FROM busybox\nCOPY g.txt /g.txt\nRUN echo shared > /s && sleep 0.3\n" + tail,
		})
	}
	builds := []struct{ name, dir string }{
		{"same-1", cached},
		{"same-2", cached},
		{"cold-b", cold("RUN echo b > /b && sleep 0.2\n")},
		{"cold-c", cold("FROM busybox AS two\nRUN echo c > /c\nFROM busybox\nCOPY --from=two /c /c\n")},
	}
	var wg sync.WaitGroup
	results := make([]result, len(builds))
	for i, b := range builds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.run("build", "--progress", "plain", "--iidfile", filepath.Join(iidDir, b.name), "-t", "conc:"+b.name, b.dir)
		}()
	}
	wg.Wait()
	held := 0
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("concurrent build %s: exit %d\n%s%s", builds[i].name, r.code, r.stdout, r.stderr)
			continue
		}
		held++
	}
	if held != len(builds) {
		t.FailNow()
	}
	warm := relIID(t, filepath.Join(iidDir, "warm"))
	for _, n := range []string{"same-1", "same-2"} {
		if got := relIID(t, filepath.Join(iidDir, n)); got != warm {
			t.Errorf("%s made %s, want the cached %s", n, got, warm)
		}
	}
	if got := s.must("run", "--rm", "conc:cold-c", "cat", "/c").stdout; got != "c\n" {
		t.Errorf("conc:cold-c /c = %q", got)
	}
	relMustFsck(t, s, "after the concurrent builds")
	t.Logf("concurrent builds held: %d of %d", held, len(builds))
}

// TestReliabilityFullDisk gives the store a 20 MB tmpfs: a RUN that writes
// 50 MB fails naming the step and the full disk, and so does a layer that
// fits the RUN but not the store's copy of it; each time the store stays
// consistent with nothing left in tmp/, and once the tmpfs is made bigger
// the same build succeeds, reusing the steps that had finished.
func TestReliabilityFullDisk(t *testing.T) {
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=20m,mode=0700"); err != nil {
		t.Fatalf("mounting a 20 MB tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	s := &strata{t: t, root: root}
	s.must("import", env.busyboxTar, "busybox:latest")

	for _, c := range []struct {
		name, run string
		want      []string
	}{
		// dd itself hits the full disk inside the RUN.
		{"RUN writes 50 MB", "dd if=/dev/zero of=/fill bs=1M count=50", []string{"No space left on device", "Dockerfile:3"}},
		// 11 MB fit in the snapshot; storing the layer needs as much again.
		{"layer does not fit the store", "dd if=/dev/urandom of=/fill bs=1M count=11 2>/dev/null", []string{"no space left on device", "Dockerfile:3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeContext(t, map[string]string{
				"Dockerfile": "FROM busybox\nRUN echo small > /small\nRUN " + c.run + "\n",
			})
			r := s.run("build", "--progress", "plain", "-t", "full:1", dir)
			if r.code == 0 {
				t.Fatalf("the build succeeded on a full disk:\n%s", r.stderr)
			}
			t.Logf("strata's error: %s", lastLine(r.stderr))
			for _, w := range c.want {
				if !strings.Contains(r.stderr+r.stdout, w) {
					t.Errorf("the build's output does not say %q:\n%s", w, r.stderr)
				}
			}
			if rep := relMustFsck(t, s, "after the full disk"); rep.Temp != 0 {
				t.Errorf("%d entries left in tmp/", rep.Temp)
			}
			if m := mountsUnder(root); len(m) != 1 {
				t.Errorf("mounts under the store: %v, want only the tmpfs", m)
			}
		})
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_REMOUNT, "size=200m,mode=0700"); err != nil {
		t.Fatalf("growing the tmpfs: %v", err)
	}
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo small > /small\nRUN dd if=/dev/zero of=/fill bs=1M count=50\n",
	})
	r := s.must("build", "--progress", "plain", "-t", "full:1", dir)
	if steps, cached := relSteps(t, r.stdout+r.stderr); cached != 1 || steps != 2 {
		t.Errorf("after the disk grew: %d of %d steps cached, want 1 of 2 (the RUN that had finished)", cached, steps)
	}
	relMustFsck(t, s, "after the disk grew")
}

// lastLine returns strata's error line in s (the last non-empty line when
// there is none).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "strata: ") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}

// TestReliabilityFsckRepairs damages a store the way a disk or a careless
// hand would: a file changed inside an extracted layer, a truncated config
// blob. fsck exits 1 naming both; --repair drops the layer dir and the name
// of the broken image; fsck is then clean, and the intact image runs with
// its layer extracted again from its blob.
func TestReliabilityFsckRepairs(t *testing.T) {
	s := newStrata(t)
	s.must("build", "-t", "fsck:good", writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo original > /f\n"}))
	s.must("build", "-t", "fsck:broken", writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo other > /g\n"}))
	relMustFsck(t, s, "before the damage")

	files, _ := filepath.Glob(filepath.Join(s.root, "layers", "*", "diff", "f"))
	if len(files) != 1 {
		t.Fatalf("layer dirs holding /f: %v", files)
	}
	if err := os.WriteFile(files[0], []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := storeManifest(t, s.root, "docker.io/library/fsck:broken")
	if err := os.Truncate(filepath.Join(s.root, "blobs", "sha256", m.Config.Digest.Hex), 10); err != nil {
		t.Fatal(err)
	}

	r := s.run("fsck")
	if r.code != 1 {
		t.Errorf("fsck on a damaged store: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{"layer " + filepath.Base(filepath.Dir(filepath.Dir(files[0]))) + ": files differ", "blob " + m.Config.Digest.String() + ": content hashes to", "image fsck:broken", "3 problems remain"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("fsck does not say %q:\n%s", w, r.stdout)
		}
	}
	r = s.must("fsck", "--repair")
	if !strings.Contains(r.stdout, "3 problems repaired") {
		t.Errorf("fsck --repair:\n%s", r.stdout)
	}
	relMustFsck(t, s, "after the repair")
	if got := s.must("run", "--rm", "fsck:good", "cat", "/f").stdout; got != "original\n" {
		t.Errorf("fsck:good /f = %q after the repair, want the layer's own content", got)
	}
	if r := s.run("inspect", "fsck:broken"); r.code == 0 {
		t.Error("fsck:broken is still named after the repair")
	}
	relMustFsck(t, s, "after re-extraction")
}
