package e2e

import (
	"github.com/strata-build/strata/test/testenv"

	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// imageSize returns the size `strata images` shows for ref.
func imageSize(t *testing.T, s *strata, ref string) int64 {
	t.Helper()
	var imgs []struct {
		RepoTags []string
		Size     int64
	}
	if err := json.Unmarshal([]byte(s.must("images", "--json").stdout), &imgs); err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		if contains(img.RepoTags, ref) {
			return img.Size
		}
	}
	t.Fatalf("no image %s in strata images", ref)
	return 0
}

// slimReport is the part of slim --report the tests read.
type slimReport struct {
	Probes []struct {
		Probe          string
		Original, Slim struct {
			Exit           int
			Stdout, Stderr string
			HTTP           *struct {
				Status int
				Body   []byte
			}
		}
	}
	Kept, Removed []string
}

func readSlimReport(t *testing.T, file string) slimReport {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var r slimReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("slim --report: %v\n%s", err, data)
	}
	return r
}

const slimPyServer = `import http.server, json, sys

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path, "python": sys.version.split()[0]}).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

if sys.argv[1:] == ["selftest"]:
    print(json.dumps({"ok": True, "sum": sum(range(10))}))
    sys.exit(0)
http.server.HTTPServer(("0.0.0.0", 8000), H).serve_forever()
`

// TestSlimPythonHTTP slims a Python HTTP server on Debian bookworm (python3
// from apt): the result is at most 15% of the original's bytes, the
// command probe's output is identical, and the HTTP probe gets the same
// answer from the slimmed image.
func TestSlimPythonHTTP(t *testing.T) {
	s := newStrata(t)
	s.must("import", debianTar(t), "debian:bookworm")
	dir := writeContext(t, map[string]string{
		"server.py": slimPyServer,
		"Dockerfile": "FROM debian:bookworm\n" +
			"RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*\n" +
			"WORKDIR /app\nCOPY server.py /app/server.py\nCMD [\"python3\", \"/app/server.py\"]\n",
	})
	s.must("build", "-t", "py:1", dir)
	report := filepath.Join(t.TempDir(), "report.json")
	r := s.must("slim", "py:1", "-t", "py:slim", "--http-probe", "8000:/hello?x=1",
		"--probe", "python3 /app/server.py selftest", "--report", report)
	t.Logf("strata slim:\n%s", r.stderr)

	before, after := imageSize(t, s, "py:1"), imageSize(t, s, "py:slim")
	t.Logf("size: %d -> %d bytes (%.1f%%)", before, after, 100*float64(after)/float64(before))
	if after*100 > before*15 {
		t.Errorf("slimmed image is %d bytes, more than 15%% of %d", after, before)
	}
	rep := readSlimReport(t, report)
	if len(rep.Probes) != 2 {
		t.Fatalf("report has %d probes, want 2", len(rep.Probes))
	}
	cmdProbe, httpProbe := rep.Probes[0], rep.Probes[1]
	if want := `{"ok": true, "sum": 45}` + "\n"; cmdProbe.Original.Stdout != want || cmdProbe.Slim.Stdout != want {
		t.Errorf("selftest probe: original %q, slim %q; want %q both", cmdProbe.Original.Stdout, cmdProbe.Slim.Stdout, want)
	}
	oh, sh := httpProbe.Original.HTTP, httpProbe.Slim.HTTP
	if oh == nil || sh == nil || oh.Status != 200 || sh.Status != 200 || string(oh.Body) != string(sh.Body) ||
		!strings.Contains(string(sh.Body), `"path": "/hello?x=1"`) {
		t.Errorf("http probe: original %+v, slim %+v; want the same 200 answer naming /hello?x=1", oh, sh)
	}
	// The slimmed image runs on its own, as the original does.
	got := s.must("run", "--rm", "py:slim", "python3", "/app/server.py", "selftest").stdout
	if want := s.must("run", "--rm", "py:1", "python3", "/app/server.py", "selftest").stdout; got != want {
		t.Errorf("run py:slim selftest: got %q, want %q", got, want)
	}
	// What was not used is gone; the record of what was done is there.
	for _, gone := range []string{"/usr/bin/perl", "/usr/bin/apt-get", "/usr/share/doc"} {
		if !contains(rep.Removed, gone) || contains(rep.Kept, gone) {
			t.Errorf("%s: want it removed", gone)
		}
	}
	if r := s.run("run", "--rm", "py:slim", "ls", "/"); r.code != 127 {
		t.Errorf("ls in the slimmed image: exit %d, want 127 (not found)", r.code)
	}
	label := s.must("inspect", "--format", `{{index .Config.Labels "org.strata-build.slim"}}`, "py:slim").stdout
	if !strings.Contains(label, `"from":"sha256:`) || !strings.Contains(label, "--http-probe 8000:/hello?x=1") {
		t.Errorf("label org.strata-build.slim = %q: want the original digest and the probes", label)
	}
	if h := s.must("history", "--no-trunc", "py:slim").stdout; !strings.Contains(h, "strata slim py:1") {
		t.Errorf("history has no slim entry:\n%s", h)
	}
}

const branchLib = `#include <stdio.h>
void branch_fn(void) { puts("branch: from " LIB); }
`

const branchMain = `#include <stdio.h>
#include <string.h>
void branch_fn(void);
int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "branch") == 0) {
		branch_fn();
		return 0;
	}
	puts(argv[0]);
	return 0;
}
`

// An entrypoint script that runs app, only checks that tool is there, and
// calls basename.
const branchEntry = `#!/bin/sh
set -e
/opt/branch/bin/app "$@"
test -x /opt/branch/bin/tool && echo "tool present"
basename /a/b/c
`

// TestSlimDTNeededAndShellEntrypoint slims an image whose entrypoint is a
// shell script: the shell and the programs it calls stay; a C program
// linked against a library it calls only on a branch the probe did not
// take still runs that branch; and a second binary the probe never ran
// (the script only tested it with test -x) still starts, because the
// library in its DT_NEEDED, which nothing the probe ran loads, was kept
// with it.
func TestSlimDTNeededAndShellEntrypoint(t *testing.T) {
	s := newStrata(t)
	s.must("import", debianTar(t), "debian:bookworm")
	dir := writeContext(t, map[string]string{
		"branch.c": branchLib, "main.c": branchMain, "entry.sh": branchEntry,
		"Dockerfile": "FROM debian:bookworm\n" +
			"COPY libbranch.so libtoolonly.so /opt/branch/lib/\nCOPY app tool /opt/branch/bin/\n" +
			"COPY --chmod=755 entry.sh /usr/local/bin/entry.sh\nENTRYPOINT [\"/usr/local/bin/entry.sh\"]\n",
	})
	for _, args := range [][]string{
		{"-shared", "-fPIC", `-DLIB="libbranch"`, "-o", "libbranch.so", "branch.c"},
		{"-shared", "-fPIC", `-DLIB="libtoolonly"`, "-o", "libtoolonly.so", "branch.c"},
		{"-o", "app", "main.c", "-L.", "-lbranch", "-Wl,-rpath,/opt/branch/lib"},
		{"-o", "tool", "main.c", "-L.", "-ltoolonly", "-Wl,-rpath,/opt/branch/lib"},
	} {
		cmd := exec.Command("gcc", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %s (apt-get install gcc libc6-dev): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	s.must("build", "-t", "br:1", dir)
	report := filepath.Join(t.TempDir(), "report.json")
	s.must("slim", "br:1", "-t", "br:slim", "--report", report)
	rep := readSlimReport(t, report)
	if want := "/opt/branch/bin/app\ntool present\nc\n"; rep.Probes[0].Slim.Stdout != want {
		t.Errorf("probe output on the slimmed image: %q, want %q", rep.Probes[0].Slim.Stdout, want)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"the untested branch", []string{"br:slim", "branch"}, "branch: from libbranch\ntool present\nc\n"},
		{"a binary never run", []string{"--entrypoint", "/opt/branch/bin/tool", "br:slim", "branch"}, "branch: from libtoolonly\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.run(append([]string{"run", "--rm"}, tc.args...)...)
			if r.code != 0 || r.stdout != tc.want {
				t.Errorf("strata run %s: exit %d, stdout %q, want 0, %q; stderr: %s", strings.Join(tc.args, " "), r.code, r.stdout, tc.want, r.stderr)
			}
		})
	}
	for _, kept := range []string{"/usr/bin/dash", "/usr/bin/basename", "/opt/branch/lib/libbranch.so", "/opt/branch/bin/tool", "/opt/branch/lib/libtoolonly.so"} {
		if !contains(rep.Kept, kept) {
			t.Errorf("%s not kept", kept)
		}
	}
	if r := s.run("run", "--rm", "--entrypoint", "/usr/bin/ls", "br:slim"); r.code != 127 {
		t.Errorf("ls, which the script does not call: exit %d, want 127 (removed)", r.code)
	}
}

// TestSlimProbeDiffers makes a probe whose output changes after slimming
// (a glob lists a directory without opening its files): slim fails, names
// the probe, and tags nothing. Pinning the directory with --include makes
// it pass.
func TestSlimProbeDiffers(t *testing.T) {
	s := newStrata(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN mkdir /data && touch /data/a /data/b\nCMD [\"sh\", \"-c\", \"echo /data/*\"]\n",
	})
	s.must("build", "-t", "glob:1", dir)
	report := filepath.Join(t.TempDir(), "report.json")
	r := s.run("slim", "glob:1", "-t", "glob:slim", "--report", report)
	if r.code == 0 {
		t.Fatalf("slim succeeded; want a failure: the glob's output differs\n%s", r.stderr)
	}
	for _, want := range []string{"probe 1 (the image's command) answers otherwise", `stdout "/data/*\n", was "/data/a /data/b\n"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}
	if r := s.run("inspect", "glob:slim"); r.code == 0 {
		t.Errorf("glob:slim exists after a failed slim")
	}
	// The report of the failed slim shows what the glob lost.
	if rep := readSlimReport(t, report); !contains(rep.Removed, "/data/a") || rep.Probes[0].Slim.Stdout != "/data/*\n" {
		t.Errorf("report of the failed slim: removed %q, probe %+v", rep.Removed, rep.Probes)
	}
	// slim --help says so, and how to keep such a directory.
	if help := s.must("slim", "--help").stdout; !strings.Contains(help, "A directory that was only listed") || !strings.Contains(help, "--include DIR") {
		t.Errorf("strata slim --help does not say what happens to a directory that was only listed:\n%s", help)
	}
	s.must("slim", "glob:1", "-t", "glob:slim", "--include", "/data")
	if got := s.must("run", "--rm", "glob:slim").stdout; got != "/data/a /data/b\n" {
		t.Errorf("run glob:slim with /data pinned: %q", got)
	}
}

// TestSlimRootless slims an image as an unprivileged user: the tracer and
// the probes run in the user's namespace.
func TestSlimRootless(t *testing.T) {
	u := newRootless(t, rlUser, testenv.UserOptions{Subordinate: true})
	u.must("import", "busybox.tar", "busybox:latest")
	r := u.must("slim", "busybox:latest", "-t", "bb:slim", "--probe", "sh -c 'cat /etc/passwd >/dev/null && echo rootless slim'")
	if !strings.Contains(r.stderr, "same on the slimmed image") {
		t.Errorf("slim's summary: %s", r.stderr)
	}
	if got := u.must("run", "--rm", "bb:slim", "sh", "-c", "echo rootless slim").stdout; got != "rootless slim\n" {
		t.Errorf("run bb:slim: %q", got)
	}
	if r := u.run("run", "--rm", "bb:slim", "ls"); r.code != 127 {
		t.Errorf("ls in the slimmed busybox: exit %d, want 127 (removed)", r.code)
	}

	// A server, probed over HTTP in the sandbox's own network namespace.
	ctxDir := filepath.Join(u.home, "web")
	if err := os.Mkdir(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	df := "FROM busybox\nRUN mkdir /www && echo 'hello rootless' > /www/index.html\n" +
		"CMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	u.must("build", "-t", "web:1", "web")
	report := filepath.Join(u.home, "web.json")
	u.must("slim", "web:1", "-t", "web:slim", "--http-probe", "8080:/index.html", "--report", report)
	rep := readSlimReport(t, report)
	if h := rep.Probes[0].Slim.HTTP; h == nil || h.Status != 200 || string(h.Body) != "hello rootless\n" {
		t.Errorf("http probe of the slimmed server, rootless: %+v", h)
	}
}

// TestSlimKeepBase slims only the layers above the base: the base's layer
// stays shared, a file the image deleted from the base stays deleted, and
// an unused file of the image's own layer goes.
func TestSlimKeepBase(t *testing.T) {
	s := newStrata(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN mkdir /app && echo used > /app/used && echo x > /app/unused && rm /bin/vi\n" +
			"CMD [\"cat\", \"/app/used\"]\n",
	})
	s.must("build", "-t", "kb:1", dir)
	r := s.must("slim", "--keep-base", "kb:1", "-t", "kb:slim")
	if !strings.Contains(r.stderr, "kept its base busybox:latest (1 layer)") {
		t.Errorf("slim's summary does not name the kept base:\n%s", r.stderr)
	}
	layers := func(ref string) []string {
		return rlLayers(t, s.must("inspect", "--format", "{{json .RootFS.Layers}}", ref).stdout)
	}
	base, slimmed := layers("busybox:latest"), layers("kb:slim")
	if len(slimmed) != 2 || slimmed[0] != base[0] {
		t.Fatalf("kb:slim layers %v: want busybox's %v and one more", slimmed, base)
	}
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"cat", "/app/used"}, 0},
		{[]string{"ls", "/bin/sh"}, 0},     // the base's files stay
		{[]string{"ls", "/bin/vi"}, 1},     // deleted by the image: still deleted
		{[]string{"ls", "/app/unused"}, 1}, // the image's own, unused: removed
	}
	for _, tc := range tests {
		if r := s.run(append([]string{"run", "--rm", "kb:slim"}, tc.args...)...); r.code != tc.code {
			t.Errorf("run kb:slim %s: exit %d, want %d (%s)", strings.Join(tc.args, " "), r.code, tc.code, r.stderr)
		}
	}
}

// TestBuildSlimProbe slims the final stage of a build before tagging it;
// a probe that answers otherwise fails the build and tags nothing.
func TestBuildSlimProbe(t *testing.T) {
	s := newStrata(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN mkdir /app && echo used > /app/used && echo x > /app/unused\nCMD [\"cat\", \"/app/used\"]\n",
	})
	r := s.must("build", "-t", "bs:1", "--slim-probe", "cat /app/used", "--slim-probe", "sh -c 'echo $((6*7))'", dir)
	if !strings.Contains(r.stderr, "probe 2 (--probe \"sh -c 'echo $((6*7))'\"): same on the slimmed image") {
		t.Errorf("build's slim summary:\n%s", r.stderr)
	}
	if !regexp.MustCompile(`(?m)^  image size  \S+ -> \S+ \(\d+\.\d%\)$`).MatchString(r.stderr) {
		t.Errorf("build's slim summary has no image size line:\n%s", r.stderr)
	}
	if got := s.must("run", "--rm", "bs:1").stdout; got != "used\n" {
		t.Errorf("run bs:1: %q", got)
	}
	if layers := rlLayers(t, s.must("inspect", "--format", "{{json .RootFS.Layers}}", "bs:1").stdout); len(layers) != 1 {
		t.Errorf("bs:1 has layers %v, want one", layers)
	}
	if r := s.run("run", "--rm", "bs:1", "cat", "/app/unused"); r.code == 0 {
		t.Errorf("/app/unused is still in bs:1")
	}
	// strata slim's --include, --include-bin and --keep-shell, in a build.
	s.must("build", "-t", "bs:3", "--slim-probe", "cat /app/used", "--slim-include", "/app/unused",
		"--slim-include-bin", "/bin/ls", "--slim-keep-shell", dir)
	for _, args := range [][]string{{"cat", "/app/unused"}, {"ls", "/app"}, {"sh", "-c", "true"}} {
		if r := s.run(append([]string{"run", "--rm", "bs:3"}, args...)...); r.code != 0 {
			t.Errorf("run bs:3 %s: exit %d, stderr %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := s.run("build", "-t", "bs:4", "--slim-include", "/app/unused", dir); r.code == 0 || !strings.Contains(r.stderr, "--slim-include needs --slim-probe") {
		t.Errorf("build with --slim-include and no probe: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = s.run("build", "-t", "bs:2", "--slim-probe", "sh -c 'echo /app/*'", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "answers otherwise on the slimmed image") {
		t.Errorf("build with a probe that differs: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := s.run("inspect", "bs:2"); r.code == 0 {
		t.Errorf("bs:2 was tagged by a failed build")
	}
}

// TestSlimNonRootUser slims images whose USER is not root, as root and
// rootless: the tracer resolves the relative paths of processes that run
// as another user (httpd opens index.html relative to its -h directory),
// and the probes answer the same on the slimmed image.
func TestSlimNonRootUser(t *testing.T) {
	df := "FROM busybox\nRUN mkdir /www && echo 'hello %s' > /www/index.html\n" +
		"USER %s\nWORKDIR /www\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"
	probe := "sh -c 'cat index.html && id -u'"
	check := func(t *testing.T, run func(args ...string) result, user, report string) {
		t.Helper()
		rep := readSlimReport(t, report)
		if len(rep.Probes) != 2 {
			t.Fatalf("report has %d probes, want 2: %+v", len(rep.Probes), rep.Probes)
		}
		if h := rep.Probes[1].Slim.HTTP; h == nil || h.Status != 200 || string(h.Body) != "hello "+user+"\n" {
			t.Errorf("http probe of the slimmed server as USER %s: %+v", user, h)
		}
		uid := user
		if user == "nobody" {
			uid = "65534"
		}
		if got, want := rep.Probes[0].Slim.Stdout, "hello "+user+"\n"+uid+"\n"; got != want {
			t.Errorf("command probe as USER %s: got %q, want %q", user, got, want)
		}
		if r := run("run", "--rm", "web:slim", "ls"); r.code != 127 {
			t.Errorf("ls in the slimmed image: exit %d, want 127 (removed)", r.code)
		}
	}
	t.Run("root", func(t *testing.T) {
		for _, user := range []string{"nobody", "1000"} {
			t.Run(user, func(t *testing.T) {
				s := newStrata(t)
				dir := writeContext(t, map[string]string{"Dockerfile": fmt.Sprintf(df, user, user)})
				s.must("build", "-t", "web:1", dir)
				report := filepath.Join(t.TempDir(), "report.json")
				s.must("slim", "web:1", "-t", "web:slim", "--http-probe", "8080:/index.html", "--probe", probe, "--report", report)
				check(t, s.run, user, report)
			})
		}
	})
	t.Run("rootless", func(t *testing.T) {
		u := newRootless(t, rlUser, testenv.UserOptions{Subordinate: true})
		u.must("import", "busybox.tar", "busybox:latest")
		ctxDir := filepath.Join(u.home, "web")
		if err := os.Mkdir(ctxDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(fmt.Sprintf(df, "1000", "1000")), 0o644); err != nil {
			t.Fatal(err)
		}
		u.must("build", "-t", "web:1", "web")
		report := filepath.Join(u.home, "web.json")
		u.must("slim", "web:1", "-t", "web:slim", "--http-probe", "8080:/index.html", "--probe", probe, "--report", report)
		check(t, u.run, "1000", report)
	})
}
