package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/test/testenv"
)

// contextEpoch is the mtime every build-context file gets (2020-09-13), as
// the shared harness sets it.
const contextEpoch = 1600000000

// snap is what a side made of a case: the manifests and config lines of the
// image (and of the parent image), or the failed build.
type snap struct {
	tree, config             []string
	parentTree, parentConfig []string
	buildFailed              bool
	buildLog                 string // the tail of the log of a failed build
}

// prepared is a case's copied context, ready to build.
type prepared struct {
	cw, ctxDir, parentDir string
	// rlCtxDir and rlParentDir are the copies the rootless user owns, as a
	// rootless user builds contexts of their own.
	rlCtxDir, rlParentDir string
	cutoff                int64 // mtimes older than this are compared
	opts                  manifestOptions
}

// dirsFor returns the directories side sd builds from.
func (p *prepared) dirsFor(sd side) *prepared {
	if !rootless(sd) || p.rlCtxDir == "" {
		return p
	}
	q := *p
	q.ctxDir, q.parentDir = p.rlCtxDir, p.rlParentDir
	return &q
}

// copyForUser makes rlCtxDir and rlParentDir: a copy of the context (and parent) owned by
// the user, modes and mtimes kept.
func (p *prepared) copyForUser(ctx context.Context, u *rootlessUser) error {
	base := filepath.Join(p.cw, "rootless")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	ctxDir, parentDir := filepath.Join(base, "context"), ""
	if p.parentDir != "" {
		parentDir = filepath.Join(base, "parent")
	}
	for _, d := range [][2]string{{p.ctxDir, ctxDir}, {p.parentDir, parentDir}} {
		if d[0] == "" {
			continue
		}
		if out, err := exec.CommandContext(ctx, "cp", "-a", d[0], d[1]).CombinedOutput(); err != nil {
			return fmt.Errorf("copying the context for the rootless user: %w: %s", err, out)
		}
		if err := u.own(d[1]); err != nil {
			return err
		}
		if err := setMtimes(d[1], contextEpoch); err != nil {
			return err
		}
	}
	p.rlCtxDir, p.rlParentDir = ctxDir, parentDir
	return nil
}

// built is what building a case on one side gave, and how long it took.
type built struct {
	snap    *snap
	err     error
	elapsed time.Duration
}

// runCase runs one case: the oracle (or the golden files) and every side
// compared with it, then one subtest per side named after its mode. Sides
// with stores of their own build at once; the self-test's two docker sides
// share the daemon's image names and build one after the other.
func (s *suite) runCase(t *testing.T, c *caseSpec) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	defer s.tagLocks.lock(append([]string{c.parentTag}, c.extraTags...))()
	defer s.removeDockerImages(c)
	if c.golden && s.selfTest {
		s.record(outcome{name: c.name, mode: "selftest", status: "SKIP", reason: "golden case: docker is not its oracle"}, "")
		return
	}
	p, err := s.prepare(ctx, c)
	var ref built
	sides := s.sidesFor(c)
	got := make([]built, len(sides))
	switch {
	case err != nil:
		ref.err = err
	case c.golden && s.writeGold:
		ref.snap = &snap{}
	case c.golden:
		ref.snap, ref.err = loadGolden(c)
	}
	if err == nil {
		s.buildAll(ctx, c, p, sides, &ref, got)
	}
	refLabel := s.oracle.label()
	if c.golden {
		refLabel = ""
	}
	for i, sd := range sides {
		mode := modeOf(sd)
		t.Run(mode, func(t *testing.T) {
			o := outcome{name: c.name, mode: mode, status: "PASS", refElapsed: ref.elapsed, refLabel: refLabel, elapsed: got[i].elapsed}
			report := ""
			switch {
			case rootless(sd) && c.rootlessSkip != "":
				o.status, o.reason = "SKIP", c.rootlessSkip
			case ref.err != nil:
				o.status, o.reason = "FAIL", ref.err.Error()
			case got[i].err != nil:
				o.status, o.reason = "FAIL", got[i].err.Error()
			default:
				o.reason, report = s.compareSide(sd, c, ref.snap, got[i].snap)
				if report != "" || strings.HasPrefix(o.reason, "!") {
					o.status, o.reason = "FAIL", strings.TrimPrefix(o.reason, "!")
				}
			}
			s.record(o, report)
			switch o.status {
			case "FAIL":
				t.Errorf("%s [%s]: %s\n%s  details: %s", c.name, mode, o.reason, report, filepath.Join(s.work, c.name))
			case "SKIP":
				t.Skipf("%s [%s] cannot run rootless: %s", c.name, mode, o.reason)
			}
		})
	}
}

// sidesFor returns the sides that build c: every side, but for the native
// modes when CONFORMANCE_NATIVE_CASES leaves c out.
func (s *suite) sidesFor(c *caseSpec) []side {
	var out []side
	for _, sd := range s.sides {
		if ss, ok := sd.(*strataSide); ok && ss.snapshotter == "native" && s.nativeCases != nil && !s.nativeCases[c.name] {
			continue
		}
		out = append(out, sd)
	}
	return out
}

// buildAll builds the case on the oracle (unless ref is already set: a
// golden case) and on sides, filling ref and got.
func (s *suite) buildAll(ctx context.Context, c *caseSpec, p *prepared, sides []side, ref *built, got []built) {
	one := func(sd side, b *built) {
		start := time.Now()
		b.snap, b.err = s.buildSide(ctx, sd, c, p.dirsFor(sd))
		b.elapsed = time.Since(start)
	}
	var wg sync.WaitGroup
	if ref.snap == nil && ref.err == nil {
		if s.selfTest {
			one(s.oracle, ref)
		} else {
			wg.Add(1)
			go func() { defer wg.Done(); one(s.oracle, ref) }()
		}
	}
	for i, sd := range sides {
		if rootless(sd) && c.rootlessSkip != "" {
			continue
		}
		if s.selfTest {
			one(sd, &got[i])
		} else {
			wg.Add(1)
			go func() { defer wg.Done(); one(sd, &got[i]) }()
		}
	}
	wg.Wait()
}

// modeOf names a side's mode in the outcomes.
func modeOf(sd side) string {
	if ss, ok := sd.(*strataSide); ok {
		return ss.mode
	}
	return "selftest"
}

// rootless reports whether sd is strata run by the ordinary user.
func rootless(sd side) bool {
	ss, ok := sd.(*strataSide)
	return ok && ss.user != nil
}

// compareSide compares what sd built with ref. It returns a reason ("!"
// first: a failure) and the report of differences (a failure when not
// empty).
func (s *suite) compareSide(sd side, c *caseSpec, ref, got *snap) (string, string) {
	if c.golden && s.writeGold {
		if err := writeGolden(c, got); err != nil {
			return "!" + err.Error(), ""
		}
		return "golden files written to " + c.dir + ": review them", ""
	}
	refLabel := s.oracle.label()
	if c.golden {
		refLabel = "golden"
	}
	if c.expectFail {
		switch {
		case ref.buildFailed && got.buildFailed:
			return "both builds failed, as expected", ""
		case !ref.buildFailed:
			return fmt.Sprintf("!the build must fail, but %s accepted it: the case is wrong", refLabel), ""
		default:
			return fmt.Sprintf("!the build must fail, but %s accepted it", sd.label()), ""
		}
	}
	if ref.buildFailed {
		return fmt.Sprintf("!%s build failed (the oracle rejects the case)", refLabel), ref.buildLog
	}
	if got.buildFailed {
		return fmt.Sprintf("!%s build failed", sd.label()), got.buildLog
	}
	var report strings.Builder
	for _, cmp := range []struct {
		what       string
		want, have []string
	}{
		{"parent image filesystem", ref.parentTree, got.parentTree},
		{"parent image config", ref.parentConfig, got.parentConfig},
		{"filesystem", ref.tree, got.tree},
		{"config", ref.config, got.config},
	} {
		report.WriteString(diffLines(cmp.what, refLabel, sd.label(), cmp.want, cmp.have, s.diffLines))
	}
	return "", report.String()
}

// prepare copies the case's context into the work directory, takes the
// parent's directory out of it, runs pre.sh and sets every mtime.
func (s *suite) prepare(ctx context.Context, c *caseSpec) (*prepared, error) {
	cw := filepath.Join(s.work, c.name)
	p := &prepared{cw: cw, ctxDir: filepath.Join(cw, "context")}
	if err := os.MkdirAll(p.ctxDir, 0o755); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, "cp", "-a", c.dir+"/.", p.ctxDir+"/").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copying the context: %w: %s", err, out)
	}
	for _, f := range append([]string{"case.env", "pre.sh"}, goldenFiles...) {
		os.Remove(filepath.Join(p.ctxDir, f))
	}
	if c.parent != "" {
		p.parentDir = filepath.Join(cw, "parent")
		if fi, err := os.Stat(filepath.Join(p.ctxDir, c.parent)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("case.env: PARENT=%s is not a directory of the case", c.parent)
		}
		if err := os.Rename(filepath.Join(p.ctxDir, c.parent), p.parentDir); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, "pre.sh")); err == nil {
		pre, _ := filepath.Abs(filepath.Join(c.dir, "pre.sh"))
		caseDir, _ := filepath.Abs(c.dir)
		cmd := exec.CommandContext(ctx, "bash", pre)
		cmd.Dir = p.ctxDir
		cmd.Env = append(os.Environ(), "CASE_DIR="+caseDir, "PARENT_CONTEXT="+p.parentDir)
		if err := runLogged(cmd, filepath.Join(cw, "pre.log")); err != nil {
			log, _ := os.ReadFile(filepath.Join(cw, "pre.log"))
			return nil, fmt.Errorf("pre.sh failed: %w\n%s", err, indent(testenv.LastLines(string(log), 12)))
		}
	}
	for _, d := range []string{p.ctxDir, p.parentDir} {
		if d == "" {
			continue
		}
		if err := setMtimes(d, contextEpoch); err != nil {
			return nil, err
		}
	}
	if s.rlUser != nil && c.rootlessSkip == "" {
		if err := p.copyForUser(ctx, s.rlUser); err != nil {
			return nil, err
		}
	}
	p.cutoff = s.begun
	p.opts = manifestOptions{Before: p.cutoff, XattrFilter: regexp.MustCompile(`^security\.capability$`)}
	if c.volatile != nil {
		p.opts.Volatile = append(p.opts.Volatile, c.volatile)
	}
	if c.exclude != nil {
		p.opts.Exclude = append(p.opts.Exclude, c.exclude)
	}
	return p, nil
}

// setMtimes sets the mtime (and atime) of every entry under dir, links
// themselves rather than what they point to.
func setMtimes(dir string, epoch int64) error {
	ts := []unix.Timespec{{Sec: epoch}, {Sec: epoch}}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("setting the mtime of %s: %w", p, err)
		}
		return nil
	})
}

// buildSide builds the case (and its parent) on sd and reads the images
// back. A failed build of the case itself is a result (snap.buildFailed);
// every other failure is an error.
func (s *suite) buildSide(ctx context.Context, sd side, c *caseSpec, p *prepared) (*snap, error) {
	out := &snap{}
	prefix := filepath.Join(p.cw, sd.label())
	if c.parent != "" {
		log := prefix + ".parent.build.log"
		if err := sd.build(ctx, c.parentTag, p.parentDir, "Dockerfile", inputDir, log, c.parentBuildArgs); err != nil {
			return nil, fmt.Errorf("%s build of the parent image failed: %w\n%s", sd.label(), err, logTail(log))
		}
		var err error
		if out.parentTree, out.parentConfig, err = s.readBack(ctx, sd, c.parentTag, p, prefix+".parent"); err != nil {
			return nil, fmt.Errorf("reading back the %s parent image: %w", sd.label(), err)
		}
	}
	tag := "conformance/" + strings.ToLower(c.name) + ":" + sd.label()
	var args []string
	for _, a := range c.buildArgs {
		// @CONTEXT@ is this side's copy of the context (for paths such as
		// --build-context NAME=@CONTEXT@/dir)
		args = append(args, strings.ReplaceAll(a, "@CONTEXT@", p.ctxDir))
	}
	if c.target != "" {
		args = append(args, "--target", c.target)
	}
	for _, x := range c.extraTags {
		args = append(args, "-t", x)
	}
	log := prefix + ".build.log"
	if err := sd.build(ctx, tag, p.ctxDir, c.dockerfile, c.input, log, args); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s build: %w", sd.label(), ctx.Err())
		}
		out.buildFailed, out.buildLog = true, logTail(log)
		return out, nil
	}
	if c.expectFail {
		return out, nil
	}
	if err := sameImage(ctx, sd, tag, c.extraTags); err != nil {
		return nil, err
	}
	var err error
	if out.tree, out.config, err = s.readBack(ctx, sd, tag, p, prefix); err != nil {
		return nil, fmt.Errorf("reading back the %s image %s: %w", sd.label(), tag, err)
	}
	return out, nil
}

// sameImage checks that every extra -t names the image that tag names.
func sameImage(ctx context.Context, sd side, tag string, extra []string) error {
	if len(extra) == 0 {
		return nil
	}
	want, err := imageIDOf(ctx, sd, tag)
	if err != nil {
		return err
	}
	for _, x := range extra {
		got, err := imageIDOf(ctx, sd, x)
		if err != nil || got != want {
			return fmt.Errorf("after the %s build, -t %s does not name the image that %s names (%s, want %s; %v)", sd.label(), x, tag, got, want, err)
		}
	}
	return nil
}

// readBack exports and inspects tag, and writes PREFIX.tree and
// PREFIX.config for the record.
func (s *suite) readBack(ctx context.Context, sd side, tag string, p *prepared, prefix string) ([]string, []string, error) {
	var tree []string
	if err := sd.export(ctx, tag, func(r io.Reader) error {
		var err error
		tree, err = readManifest(r, p.opts)
		return err
	}); err != nil {
		return nil, nil, err
	}
	data, err := sd.inspect(ctx, tag)
	if err != nil {
		return nil, nil, err
	}
	config, err := configLines(data)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the config of %s: %w", tag, err)
	}
	err = errors.Join(writeLines(prefix+".tree", tree), writeLines(prefix+".config", config),
		os.WriteFile(prefix+".inspect.json", data, 0o644))
	return tree, config, err
}

// removeDockerImages drops the case's images from the daemon (disk space;
// the next case must not find them).
func (s *suite) removeDockerImages(c *caseSpec) {
	if s.keep {
		return
	}
	tags := []string{"conformance/" + strings.ToLower(c.name) + ":docker", "conformance/" + strings.ToLower(c.name) + ":docker2"}
	if c.parentTag != "" {
		tags = append(tags, c.parentTag)
	}
	tags = append(tags, c.extraTags...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s.docker.command(ctx, append([]string{"rmi", "-f"}, tags...)...).Run()
}

// logTail returns the last lines of a build log, indented.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	return indent(testenv.LastLines(string(b), 12))
}

// indent prefixes every line of s with "    | ".
func indent(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    | " + l + "\n")
	}
	return b.String()
}
