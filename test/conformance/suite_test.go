// Package conformance is strata's differential conformance suite: every case
// under testdata/cases is built by docker's BuildKit (the oracle, a private
// dockerd of the run's own) and by strata (as root, and rootless as an
// ordinary user), and the two images are compared file by file and config
// by config. See README.md beside this file.
package conformance

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-build/strata/test/testenv"
)

// baseImage is a base image every case may name.
type baseImage struct{ tag string }

// baseImages are the base images, by the names BASES uses.
var baseImages = map[string]baseImage{
	"busybox": {tag: "busybox:conformance"},
	"debian":  {tag: "debian:bookworm"},
}

// strataModes returns the ways strata builds, as CONFORMANCE_MODES names
// them: as root or rootless, with the overlay or the native snapshotter.
func strataModes() []string { return []string{"root", "rootless", "native", "rootless-native"} }

// settings are the run's knobs, from the environment.
type settings struct {
	casesDir string
	only     map[string]bool
	modes    []string // of strataModes
	// nativeCases, when not nil, are the only cases the native modes
	// build (CONFORMANCE_NATIVE_CASES).
	nativeCases map[string]bool
	parallel    int
	selfTest    bool
	keep        bool
	writeGold   bool
	diffLines   int
	cache       string
	busybox     string
	timeout     time.Duration // per case
}

// settingsFromEnv reads the CONFORMANCE_* variables (README.md).
func settingsFromEnv() (settings, error) {
	s := settings{casesDir: "testdata/cases", modes: []string{"root", "rootless"}, parallel: 3,
		diffLines: 20, cache: testenv.DebianCache, busybox: "/bin/busybox",
		timeout: 25 * time.Minute}
	if v := os.Getenv("CONFORMANCE_CASE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("CONFORMANCE_CASE_TIMEOUT=%q: want a duration such as 40m", v)
		}
		s.timeout = d
	}
	if v := os.Getenv("CONFORMANCE_CASES"); v != "" {
		s.casesDir = v
	}
	if v := os.Getenv("CONFORMANCE_ONLY"); v != "" {
		s.only = map[string]bool{}
		for _, n := range strings.Split(v, ",") {
			s.only[strings.TrimSpace(n)] = true
		}
	}
	if v := os.Getenv("CONFORMANCE_MODES"); v != "" {
		s.modes = nil
		for _, m := range strings.Split(v, ",") {
			if !slices.Contains(strataModes(), m) {
				return s, fmt.Errorf("CONFORMANCE_MODES=%q: modes are %s", v, strings.Join(strataModes(), ", "))
			}
			s.modes = append(s.modes, m)
		}
	}
	for _, n := range []struct {
		name string
		dst  *int
	}{{"CONFORMANCE_PARALLEL", &s.parallel}, {"CONFORMANCE_DIFF_LINES", &s.diffLines}} {
		if v := os.Getenv(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 {
				return s, fmt.Errorf("%s=%q: want a number of at least 1", n.name, v)
			}
			*n.dst = i
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"CONFORMANCE_SELFTEST", &s.selfTest}, {"CONFORMANCE_KEEP", &s.keep}, {"CONFORMANCE_WRITE_GOLDEN", &s.writeGold}} {
		switch os.Getenv(b.name) {
		case "", "0":
		case "1":
			*b.dst = true
		default:
			return s, fmt.Errorf("%s=%q: use 1 or 0", b.name, os.Getenv(b.name))
		}
	}
	if v := os.Getenv("CONFORMANCE_NATIVE_CASES"); v != "" {
		names, err := readCaseList(v)
		if err != nil {
			return s, fmt.Errorf("CONFORMANCE_NATIVE_CASES: %w", err)
		}
		s.nativeCases = names
	}
	abs, err := filepath.Abs(s.casesDir)
	if err != nil {
		return s, fmt.Errorf("finding the cases directory: %w", err)
	}
	s.casesDir = abs
	if v := os.Getenv("CONFORMANCE_CACHE"); v != "" {
		s.cache = v
	}
	if v := os.Getenv("BUSYBOX"); v != "" {
		s.busybox = v
	}
	return s, nil
}

// readCaseList reads a file of case names, one a line; blank lines and
// lines starting with # are left out.
func readCaseList(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the case list: %w", err)
	}
	names := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			names[l] = true
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s names no case", path)
	}
	return names, nil
}

// outcome is the result of one case in one mode.
type outcome struct {
	name, mode, status, reason string        // status: PASS, FAIL, SKIP
	elapsed, refElapsed        time.Duration // the side's build and read-back; the oracle's
	refLabel                   string
}

// suite is one run: the daemon, the sides, the work directory and the
// results.
type suite struct {
	settings
	work     string
	docker   *dockerd
	oracle   side   // docker
	sides    []side // compared with the oracle (or the golden files)
	slots    chan struct{}
	tagLocks *keyedMutex
	rlUser   *rootlessUser
	// begun is when the suite started: every file a build writes is
	// younger, while the context, base images and archives are older.
	// One time for all cases, since BuildKit shares a step that two
	// concurrent builds have in common, so a case's file can be written
	// by another case's build before this case was prepared.
	begun int64

	mu       sync.Mutex
	outcomes []outcome
	out      io.Writer
}

func TestConformance(t *testing.T) {
	start := time.Now()
	set, err := settingsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cases := loadCases(t, set)
	s := newSuite(t, set, cases)
	// The cases start in order, CONFORMANCE_PARALLEL at a time: the slow
	// Debian cases first, so that they do not make the run's tail. t.Run
	// from several goroutines runs the subtests at once, without t.Parallel,
	// whose scheduling (and -parallel) would decide the order and the limit.
	sortSlowFirst(cases)
	t.Run("cases", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, c := range cases {
			s.slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-s.slots }()
				t.Run(c.name, func(t *testing.T) { s.runCase(t, c) })
			}()
		}
		wg.Wait()
	})
	failed := s.summary(time.Since(start))
	if failed > 0 || t.Failed() {
		fmt.Fprintf(s.out, "work directory kept: %s\n", s.work)
	} else if !s.keep {
		os.RemoveAll(s.work)
	}
}

// sortSlowFirst puts the cases that need debian:bookworm (apt-get: minutes
// each) first, keeping the order of the rest.
func sortSlowFirst(cases []*caseSpec) {
	slow := func(c *caseSpec) bool { return slices.Contains(c.bases, "debian") }
	sort.SliceStable(cases, func(i, j int) bool { return slow(cases[i]) && !slow(cases[j]) })
}

// loadCases reads every case directory (or those CONFORMANCE_ONLY names).
func loadCases(t *testing.T, set settings) []*caseSpec {
	ents, err := os.ReadDir(set.casesDir)
	if err != nil {
		t.Fatalf("reading the cases: %v", err)
	}
	var cases []*caseSpec
	seen := map[string]bool{}
	for _, e := range ents {
		if !e.IsDir() || (set.only != nil && !set.only[e.Name()]) {
			continue
		}
		seen[e.Name()] = true
		c, err := loadCase(context.Background(), filepath.Join(set.casesDir, e.Name()))
		if err != nil {
			t.Errorf("case %s: %v", e.Name(), err)
			continue
		}
		cases = append(cases, c)
	}
	for n := range set.only {
		if !seen[n] {
			t.Errorf("CONFORMANCE_ONLY names %q, which is no case directory of %s", n, set.casesDir)
		}
	}
	for n := range set.nativeCases {
		if _, err := os.Stat(filepath.Join(set.casesDir, n, "Dockerfile")); err != nil {
			t.Errorf("CONFORMANCE_NATIVE_CASES names %q, which is no case of %s", n, set.casesDir)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if len(cases) == 0 {
		t.Fatalf("no cases in %s", set.casesDir)
	}
	return cases
}

// newSuite checks the requirements and makes everything the cases share:
// the strata binary, the private dockerd, the rootless user, the base images
// on every side.
func newSuite(t *testing.T, set settings, cases []*caseSpec) *suite {
	ctx := context.Background()
	s := &suite{settings: set, slots: make(chan struct{}, set.parallel), tagLocks: newKeyedMutex(), out: os.Stdout, begun: time.Now().Unix()}
	work, err := os.MkdirTemp("", "strata-conformance-")
	if err != nil {
		t.Fatal(err)
	}
	// The rootless user reaches its build contexts through here.
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	s.work = work
	s.docker = startDockerd(t)
	s.oracle = &dockerSide{d: s.docker, name: "docker"}
	if set.selfTest {
		s.sides = []side{&dockerSide{d: s.docker, name: "docker2"}}
		fmt.Fprintln(s.out, "conformance self-test: docker against docker, --no-cache both times")
	} else {
		bin := filepath.Join(work, "strata")
		build := exec.Command("go", "build", "-o", bin, "./cmd/strata")
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building strata: %v\n%s", err, out)
		}
		for _, m := range set.modes {
			var u *rootlessUser
			if strings.HasPrefix(m, "rootless") {
				if s.rlUser == nil {
					s.rlUser = newRootlessUser(t, bin)
				}
				u = s.rlUser
			}
			s.sides = append(s.sides, newStrataSide(m, bin, work, u))
		}
	}
	needed := map[string]bool{}
	for _, c := range cases {
		for _, b := range c.bases {
			needed[b] = true
		}
	}
	for _, name := range []string{"busybox", "debian"} {
		if needed[name] {
			s.importBase(ctx, t, name)
		}
	}
	return s
}

// importBase makes the root filesystem tarball of a base image and imports
// it on every side.
func (s *suite) importBase(ctx context.Context, t *testing.T, name string) {
	var tar string
	switch name {
	case "busybox":
		tar = filepath.Join(s.work, "busybox-conformance.tar")
		if err := makeBusyboxTar(ctx, s.busybox, tar); err != nil {
			t.Fatalf("making busybox:conformance: %v", err)
		}
	case "debian":
		var err error
		if tar, err = testenv.DebianTar(ctx, s.cache); err != nil {
			t.Fatalf("making debian:bookworm: %v", err)
		}
	}
	tag := baseImages[name].tag
	start := time.Now()
	if _, err := s.docker.output(ctx, "import", tar, tag); err != nil {
		t.Fatalf("importing %s: %v", tag, err)
	}
	for _, sd := range s.sides {
		ss, ok := sd.(*strataSide)
		if !ok {
			continue
		}
		src := tar
		if ss.user != nil {
			src = ss.user.readable(t, tar)
		}
		if out, err := ss.command(ctx, "import", src, tag).CombinedOutput(); err != nil {
			t.Fatalf("strata import %s %s (%s): %v\n%s", src, tag, sd.label(), err, out)
		}
	}
	fmt.Fprintf(s.out, "imported %s on every side (%.1fs)\n", tag, time.Since(start).Seconds())
}

// record keeps one outcome and prints its line (and report) at once.
func (s *suite) record(o outcome, report string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes = append(s.outcomes, o)
	line := fmt.Sprintf("%s %s [%s] (%.1fs", o.status, o.name, o.mode, o.elapsed.Seconds())
	if o.refLabel != "" {
		line += fmt.Sprintf("; %s %.1fs", o.refLabel, o.refElapsed.Seconds())
	}
	line += ")"
	if o.reason != "" {
		line += ": " + o.reason
	}
	fmt.Fprintln(s.out, line)
	fmt.Fprint(s.out, report)
}

// summary prints the skipped cases and the summary line; it returns the
// number of failures.
func (s *suite) summary(elapsed time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	sort.Slice(s.outcomes, func(i, j int) bool {
		a, b := s.outcomes[i], s.outcomes[j]
		return a.mode < b.mode || (a.mode == b.mode && a.name < b.name)
	})
	counts := map[string]int{}
	perMode := map[string]map[string]int{}
	var failedNames []string
	for _, o := range s.outcomes {
		counts[o.status]++
		if perMode[o.mode] == nil {
			perMode[o.mode] = map[string]int{}
		}
		perMode[o.mode][o.status]++
		switch o.status {
		case "SKIP":
			fmt.Fprintf(s.out, "skipped %s [%s]: %s\n", o.name, o.mode, o.reason)
		case "FAIL":
			failedNames = append(failedNames, o.name+" ["+o.mode+"]")
		}
	}
	if len(failedNames) > 0 {
		fmt.Fprintf(s.out, "failed: %s\n", strings.Join(failedNames, ", "))
	}
	var modes []string
	for m, c := range perMode {
		modes = append(modes, fmt.Sprintf("%s %d/%d/%d", m, c["PASS"], c["FAIL"], c["SKIP"]))
	}
	sort.Strings(modes)
	fmt.Fprintf(s.out, "conformance: %d passed, %d failed, %d skipped (passed/failed/skipped: %s); total time %.0fs\n",
		counts["PASS"], counts["FAIL"], counts["SKIP"], strings.Join(modes, ", "), elapsed.Seconds())
	return counts["FAIL"]
}

// keyedMutex serialises the cases that use the same fixed image names
// (PARENT_TAG, EXTRA_TAGS) in one store.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func newKeyedMutex() *keyedMutex { return &keyedMutex{locks: map[string]*sync.Mutex{}} }

// lock locks every key (in sorted order, so that two callers cannot
// deadlock) and returns the unlock.
func (k *keyedMutex) lock(keys []string) func() {
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	var held []*sync.Mutex
	for i, key := range keys {
		if key == "" || (i > 0 && keys[i-1] == key) {
			continue
		}
		k.mu.Lock()
		m := k.locks[key]
		if m == nil {
			m = &sync.Mutex{}
			k.locks[key] = m
		}
		k.mu.Unlock()
		m.Lock()
		held = append(held, m)
	}
	return func() {
		for _, m := range held {
			m.Unlock()
		}
	}
}
