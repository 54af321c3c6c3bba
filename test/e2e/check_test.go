package e2e

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// TestCheckPredictsFromCache: on the tutorial's "RUN rm later" Dockerfile,
// strata check names the deleting line and, before any build, predicts in
// kind; after one build it finds the steps in the build cache and predicts
// the wasted bytes within 5% of what analyze then measures on the image.
func TestCheckPredictsFromCache(t *testing.T) {
	s := newStrata(t)
	dir := writeContext(t, map[string]string{
		"hello.sh": "#!/bin/sh\necho 'Hello from strata'\n",
		"Dockerfile.rm": "FROM busybox\nRUN mkdir -p /opt/cc && head -c 20000000 /dev/zero > /opt/cc/toolchain\n" +
			"COPY hello.sh /src/\nRUN cp /src/hello.sh /hello && chmod 755 /hello\nRUN rm -rf /opt/cc /src\nCMD [\"/hello\"]\n",
	})
	df := filepath.Join(dir, "Dockerfile.rm")
	type violation struct {
		Rule  string `json:"rule"`
		Line  int    `json:"line"`
		Bytes int64  `json:"bytes"`
	}
	type checked struct {
		Violations    []violation `json:"violations"`
		PredictedFrom string      `json:"predictedFrom"`
		NotPredicted  string      `json:"notPredicted"`
	}
	check := func() (checked, int64) {
		t.Helper()
		r := s.run("check", "--json", "-f", df, dir)
		if r.code != 1 {
			t.Fatalf("check: exit %d, want 1 (violations)\n%s%s", r.code, r.stdout, r.stderr)
		}
		var c checked
		if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
			t.Fatalf("check --json: %v\n%s", err, r.stdout)
		}
		var bytes int64
		found := false
		for _, v := range c.Violations {
			if v.Rule == "DeletedLater" && v.Line == 5 {
				found, bytes = true, bytes+v.Bytes
			}
		}
		if !found {
			t.Fatalf("check does not name line 5's RUN rm as DeletedLater: %+v", c.Violations)
		}
		return c, bytes
	}

	before, bytes := check()
	if bytes != 0 || before.PredictedFrom != "" || !strings.Contains(before.NotPredicted, "Dockerfile.rm:2") {
		t.Errorf("before any build: %d bytes predicted from %q (not predicted: %q), want none and the step at line 2 not cached",
			bytes, before.PredictedFrom, before.NotPredicted)
	}
	if out := s.run("check", "-f", df, dir).stdout; !strings.Contains(out, "Dockerfile.rm:5: DeletedLater: this RUN deletes /opt/cc") ||
		!strings.Contains(out, "no bytes predicted") {
		t.Errorf("check before the build does not say the deleting line, in kind:\n%s", out)
	}

	s.must("build", "--progress=plain", "-t", "hello:rm", "-f", df, dir)
	after, predicted := check()
	if after.PredictedFrom != "build cache" {
		t.Errorf("after the build: predicted from %q, want the build cache (%s)", after.PredictedFrom, after.NotPredicted)
	}
	var rep struct {
		Wasted   int64 `json:"wasted"`
		Findings []struct {
			Kind  string `json:"kind"`
			Line  int    `json:"line"`
			Bytes int64  `json:"bytes"`
		} `json:"findings"`
	}
	out := s.must("analyze", "--json", "--no-compressed", "--dockerfile", df, "hello:rm").stdout
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("analyze --json: %v", err)
	}
	var measured int64
	for _, f := range rep.Findings {
		if f.Kind == "deleted-later" && f.Line == 5 {
			measured += f.Bytes
		}
	}
	if measured < 20_000_000 {
		t.Fatalf("analyze measures %d bytes deleted later at line 5, want the 20 MB toolchain", measured)
	}
	if diff := math.Abs(float64(predicted-measured)) / float64(measured); diff > 0.05 {
		t.Errorf("check predicted %d bytes, analyze measured %d: %.1f%% apart, want within 5%%", predicted, measured, 100*diff)
	}
	t.Logf("check predicted %d wasted bytes at line 5; analyze measured %d (image wasted %d)", predicted, measured, rep.Wasted)
	for _, args := range [][]string{{"check", "-f", df, dir}, {"build", "--check", "-f", df, dir}} {
		if out := s.run(args...).stdout; !strings.Contains(out, "Dockerfile.rm:5: DeletedLater: this RUN deletes /opt/cc") ||
			!strings.Contains(out, "this will waste about 20MB") {
			t.Errorf("%s after the build does not say the bytes:\n%s", strings.Join(args[:2], " "), out)
		}
	}
}

// TestBuildPrintsCheckWarnings: strata build prints BuildKit's check
// warnings after the build, as docker build does since BuildKit 0.14 ("N
// warnings found", then RULE: MESSAGE (line N)), honours # check=skip, also
// after a failed build, prints nothing with -q, and leaves strata's size
// rules to strata check: they neither print nor fail a build.
func TestBuildPrintsCheckWarnings(t *testing.T) {
	s := newStrata(t)
	const body = "FROM busybox as Build\nENV A 1\nRUN mkdir /d && echo x > /d/f\nRUN rm -rf /d\nCMD echo hi\n"
	warnings := func(stderr string) []string {
		var out []string
		in := false
		for _, l := range strings.Split(stderr, "\n") {
			switch {
			case strings.HasSuffix(l, "found (use strata check to expand):"):
				in = true
				out = append(out, strings.TrimSpace(l))
			case in && strings.HasPrefix(l, " - "):
				out = append(out, l)
			default:
				in = false
			}
		}
		return out
	}
	all := []string{
		"4 warnings found (use strata check to expand):",
		" - StageNameCasing: Stage name 'Build' should be lowercase (line 1)",
		" - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
		` - LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 2)`,
		" - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 5)",
	}
	for _, tc := range []struct {
		name, dockerfile string
		args             []string
		fails            bool
		want             []string
	}{
		{name: "all of BuildKit's", dockerfile: body, want: all},
		{name: "skipped rules", dockerfile: "# check=skip=StageNameCasing,FromAsCasing,LegacyKeyValueFormat\n" + body,
			want: []string{"1 warning found (use strata check to expand):",
				" - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 6)"}},
		{name: "skip=all", dockerfile: "# check=skip=all\n" + body},
		{name: "a clean Dockerfile", dockerfile: "FROM busybox\nRUN true\nCMD [\"true\"]\n"},
		{name: "quiet", dockerfile: body, args: []string{"-q"}},
		{name: "a failed build", dockerfile: strings.Replace(body, "RUN rm -rf /d", "RUN exit 3", 1), fails: true, want: all},
		{name: "size rules never fail a build", dockerfile: "# check=skip=StageNameCasing,FromAsCasing,LegacyKeyValueFormat,JSONArgsRecommended;error=true\n" + body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeContext(t, map[string]string{"Dockerfile": tc.dockerfile})
			r := s.run(append(append([]string{"build", "--progress=plain", "-t", "warned"}, tc.args...), dir)...)
			if (r.code != 0) != tc.fails {
				t.Fatalf("build: exit %d, want failure %v\n%s", r.code, tc.fails, r.stderr)
			}
			if diff := cmp.Diff(warnings(r.stderr), tc.want); diff != "" {
				t.Errorf("warnings (-got +want):\n%s\nstderr:\n%s", diff, r.stderr)
			}
			if strings.Contains(r.stderr, "DeletedLater") {
				t.Errorf("a build printed strata's size rule:\n%s", r.stderr)
			}
		})
	}
}
