package e2e

import (
	"strings"
	"testing"
)

// TestCheckCommand: strata check and build --check report BuildKit's rules
// and strata's size rules with FILE:LINE and exit 1, and build nothing.
func TestCheckCommand(t *testing.T) {
	s := newStrata(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox AS Build\nCOPY src /src\nRUN cp -r /src /app\nRUN rm -rf /src\nCMD echo hi\n",
		"src/a":      "a\n",
	})
	want := []string{
		"Dockerfile:1: StageNameCasing: Stage name 'Build' should be lowercase",
		"Dockerfile:4: DeletedLater: this RUN deletes /src, which COPY at Dockerfile:2 wrote",
		"Dockerfile:5: JSONArgsRecommended:",
		"check: 3 violations",
	}
	for _, args := range [][]string{{"check", dir}, {"build", "--check", "-t", "checked", dir}} {
		t.Run(args[0], func(t *testing.T) {
			r := s.run(args...)
			if r.code != 1 {
				t.Fatalf("strata %s: exit %d, want 1\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
			}
			for _, w := range want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
	if out := s.must("images").stdout; strings.Contains(out, "checked") {
		t.Errorf("build --check built an image:\n%s", out)
	}
	clean := writeContext(t, map[string]string{"Dockerfile": "# check=skip=JSONArgsRecommended\nFROM busybox\nCMD echo hi\n"})
	if r := s.run("check", clean); r.code != 0 || !strings.Contains(r.stdout, "check: no violations") {
		t.Errorf("check of a clean Dockerfile: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestBuildCheckErrorTrue: with # check=error=true a violation fails the
// build before any step runs; skipping the rule lets it build.
func TestBuildCheckErrorTrue(t *testing.T) {
	s := newStrata(t)
	bad := writeContext(t, map[string]string{"Dockerfile": "# check=error=true\nFROM busybox AS Build\nRUN touch /ran\n"})
	r := s.run("build", "--progress=plain", "-t", "strict", bad)
	if r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:2: StageNameCasing") || !strings.Contains(r.stderr, "# check=error=true") {
		t.Fatalf("exit %d, want a failure naming StageNameCasing and error=true:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "RUN touch /ran") {
		t.Errorf("a step ran before the check failed:\n%s", r.stderr)
	}
	ok := writeContext(t, map[string]string{"Dockerfile": "# check=skip=StageNameCasing;error=true\nFROM busybox AS Build\nRUN touch /ran\n"})
	s.must("build", "--progress=plain", "-t", "strict", ok)
}
