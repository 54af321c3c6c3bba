package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The helpers of the build tests are prefixed with bld so that they cannot
// clash with the other test files of the package.

// bldContext writes a context directory holding the Dockerfile df and files.
func bldContext(t *testing.T, df string, files map[string]string) string {
	t.Helper()
	all := map[string]string{"Dockerfile": df}
	for k, v := range files {
		all[k] = v
	}
	return writeContext(t, all)
}

// bldStep is one step of a build's plain progress output.
type bldStep struct {
	id     int
	name   string // "[2/3] RUN echo hi"
	status string // "DONE", "CACHED", "ERROR" or "" (started, never finished)
	logs   []string
}

var (
	bldStatusRe = regexp.MustCompile(`^#(\d+) (DONE \d+\.\ds|CACHED|ERROR: .*)$`)
	bldLogRe    = regexp.MustCompile(`^#(\d+) \d+\.\d{3} (.*)$`)
	bldNameRe   = regexp.MustCompile(`^#(\d+) (\[.*)$`)
)

// bldParsePlain parses --progress=plain output into its steps, in the order
// they first appear.
func bldParsePlain(t *testing.T, out string) []*bldStep {
	t.Helper()
	byID := map[int]*bldStep{}
	var steps []*bldStep
	get := func(id string) *bldStep {
		n, _ := strconv.Atoi(id)
		s, ok := byID[n]
		if !ok {
			s = &bldStep{id: n}
			byID[n] = s
			steps = append(steps, s)
		}
		return s
	}
	for _, l := range strings.Split(out, "\n") {
		if m := bldStatusRe.FindStringSubmatch(l); m != nil {
			get(m[1]).status = strings.TrimSuffix(strings.Fields(m[2])[0], ":")
		} else if m := bldLogRe.FindStringSubmatch(l); m != nil {
			s := get(m[1])
			s.logs = append(s.logs, m[2])
		} else if m := bldNameRe.FindStringSubmatch(l); m != nil {
			get(m[1]).name = m[2]
		}
	}
	return steps
}

// bldFind returns the one step whose name contains substr.
func bldFind(t *testing.T, steps []*bldStep, substr string) *bldStep {
	t.Helper()
	var found []*bldStep
	for _, s := range steps {
		if strings.Contains(s.name, substr) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		var names []string
		for _, s := range steps {
			names = append(names, fmt.Sprintf("#%d %q %s", s.id, s.name, s.status))
		}
		t.Fatalf("%d steps named like %q, want 1; steps:\n%s", len(found), substr, strings.Join(names, "\n"))
	}
	return found[0]
}

// bldStatus returns the final status of the step whose name contains substr.
func bldStatus(t *testing.T, out, substr string) string {
	t.Helper()
	return bldFind(t, bldParsePlain(t, out), substr).status
}

// bldLogs returns every RUN output line of plain progress output.
func bldLogs(t *testing.T, out string) []string {
	t.Helper()
	var lines []string
	for _, s := range bldParsePlain(t, out) {
		lines = append(lines, s.logs...)
	}
	return lines
}

// bldEntry is one entry of an exported image.
type bldEntry struct {
	hdr  *tar.Header
	data string
}

// bldExport exports ref with `strata export` and returns its entries by
// clean relative name ("etc/passwd").
func bldExport(t *testing.T, s *strata, ref string) map[string]bldEntry {
	t.Helper()
	out := filepath.Join(t.TempDir(), "export.tar")
	s.must("export", "-o", out, ref)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := map[string]bldEntry{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the export of %s: %v", ref, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s in the export of %s: %v", h.Name, ref, err)
		}
		name := strings.Trim(strings.TrimPrefix(h.Name, "./"), "/")
		entries[name] = bldEntry{hdr: h, data: string(data)}
	}
	return entries
}

// bldFile returns the content of a regular file of an exported image.
func bldFile(t *testing.T, entries map[string]bldEntry, name string) string {
	t.Helper()
	e, ok := entries[name]
	if !ok {
		t.Fatalf("the image has no %s", name)
	}
	return e.data
}

// bldImageID returns what `strata inspect` reports as ref's ID.
func bldImageID(t *testing.T, s *strata, ref string) string {
	t.Helper()
	return strings.TrimSpace(s.must("inspect", "--format", "{{.Id}}", ref).stdout)
}

// bldImages lists every image ID and name of the store.
func bldImages(t *testing.T, s *strata) string {
	t.Helper()
	// no CREATED column: its relative time ("Less than a second ago") moves
	// on while the test runs
	return s.must("images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}").stdout
}

// bldNoMounts fails when a mount under the store is left.
func bldNoMounts(t *testing.T, s *strata) {
	t.Helper()
	if m := mountsUnder(s.root); len(m) > 0 {
		t.Fatalf("mounts left under the store:\n%s", strings.Join(m, "\n"))
	}
}

func TestBuildErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name  string
		df    string
		files map[string]string
		args  []string
		want  []string
		// notWant are texts the message must not hold.
		notWant []string
	}{
		{
			name: "unknown instruction",
			df:   "FROM busybox\n# two\nRUN true\nENV A=1\n\nLABEL x=y\nFORM busybox\n",
			want: []string{"Dockerfile:7"},
		},
		{
			name:  "unknown COPY source",
			df:    "FROM busybox\nCOPY present.txt /present\nCOPY missing-source.txt /m\n",
			files: map[string]string{"present.txt": "here\n"},
			want:  []string{"Dockerfile:3", "missing-source.txt"},
		},
		{
			name: "unknown target",
			df:   "FROM busybox AS alpha\nRUN true\nFROM busybox AS beta\n",
			args: []string{"--target", "nosuch"},
			want: []string{"nosuch", "alpha", "beta"},
		},
		{
			name:    "COPY of a URL says COPY once",
			df:      "FROM busybox\nCOPY http://127.0.0.1:1/x /x\n",
			want:    []string{"Dockerfile:2: COPY cannot take a URL"},
			notWant: []string{"COPY: COPY"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStrata(t)
			ctx := bldContext(t, tt.df, tt.files)
			r := s.run(append(append([]string{"build", "--progress=plain"}, tt.args...), ctx)...)
			if r.code == 0 {
				t.Fatalf("build succeeded, want a failure; stderr:\n%s", r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(r.stderr, w) {
					t.Errorf("stderr holds %q:\n%s", w, r.stderr)
				}
			}
			bldNoMounts(t, s)
		})
	}
}

func TestBuildFailedRunLeavesNothing(t *testing.T) {
	s := newStrata(t)
	before := bldImages(t, s)
	ctx := bldContext(t, "FROM busybox\nRUN echo early > /early\nRUN echo first-line; echo last-line-of-output; exit 3\nRUN echo never\n", nil)
	// quiet progress: what stderr shows is the error message alone.
	r := s.run("build", "--progress=quiet", "-t", "failed:1", ctx)
	if r.code == 0 {
		t.Fatalf("build succeeded, want a failure; stderr:\n%s", r.stderr)
	}
	for _, w := range []string{"Dockerfile:3", "exit code 3", "last-line-of-output"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the error lacks %q:\n%s", w, r.stderr)
		}
	}
	if after := bldImages(t, s); after != before {
		t.Errorf("the failed build changed the images:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if r := s.run("inspect", "failed:1"); r.code == 0 {
		t.Errorf("failed:1 exists after the failed build:\n%s", r.stdout)
	}
	bldNoMounts(t, s)
}

func TestBuildBadCopyFromFailsBeforeRunning(t *testing.T) {
	tests := []struct {
		name string
		from string
	}{
		{"later stage", "later"},
		{"index out of range", "5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStrata(t)
			df := "FROM busybox AS first\n" +
				"RUN echo MARK$((40+2))ER\n" +
				"COPY --from=" + tt.from + " /x /x\n" +
				"FROM busybox AS later\n" +
				"RUN echo later > /x\n"
			r := s.run("build", "--progress=plain", "--target", "first", bldContext(t, df, nil))
			if r.code == 0 {
				t.Fatalf("build succeeded, want a failure; stderr:\n%s", r.stderr)
			}
			for _, w := range []string{"Dockerfile:3", tt.from} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "MARK42ER") || regexp.MustCompile(`(?m)^#\d+ \[.*\] RUN`).MatchString(r.stderr) {
				t.Errorf("a RUN started before the error:\n%s", r.stderr)
			}
		})
	}
}

func TestBuildHeredocs(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\n" +
		"RUN <<EOF\n" +
		"echo one > /h1\n" +
		"echo two >> /h1\n" +
		"EOF\n" +
		"COPY <<EOF /file\n" +
		"hello heredoc\n" +
		"EOF\n"
	s.must("build", "-t", "heredoc", bldContext(t, df, nil))
	e := bldExport(t, s, "heredoc")
	if got, want := bldFile(t, e, "h1"), "one\ntwo\n"; got != want {
		t.Errorf("/h1 = %q, want %q", got, want)
	}
	if got, want := bldFile(t, e, "file"), "hello heredoc\n"; got != want {
		t.Errorf("/file = %q, want %q", got, want)
	}
}

// bldTarGz returns a gzipped tar of files.
func bldTarGz(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestBuildAdd(t *testing.T) {
	payload := "downloaded payload\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dl/payload.txt" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, payload)
	}))
	defer srv.Close()
	sum := sha256.Sum256([]byte(payload))
	good := "sha256:" + hex.EncodeToString(sum[:])
	bad := sha256.Sum256([]byte("something else"))
	wrong := "sha256:" + hex.EncodeToString(bad[:])
	url := srv.URL + "/dl/payload.txt"

	s := newStrata(t)
	files := map[string]string{"arch.tar.gz": bldTarGz(t, map[string]string{"inner/x.txt": "from the tarball\n"})}
	df := "FROM busybox\n" +
		"ADD arch.tar.gz /unpacked/\n" +
		"ADD --checksum=" + good + " " + url + " /fetched/\n"
	s.must("build", "-t", "added", bldContext(t, df, files))
	e := bldExport(t, s, "added")
	if got, want := bldFile(t, e, "unpacked/inner/x.txt"), "from the tarball\n"; got != want {
		t.Errorf("/unpacked/inner/x.txt = %q, want %q", got, want)
	}
	if _, ok := e["unpacked/arch.tar.gz"]; ok {
		t.Errorf("ADD copied the archive instead of unpacking it")
	}
	if got := bldFile(t, e, "fetched/payload.txt"); got != payload {
		t.Errorf("/fetched/payload.txt = %q, want %q", got, payload)
	}

	df = "FROM busybox\nADD --checksum=" + wrong + " " + url + " /fetched/\n"
	r := s.run("build", "--progress=plain", bldContext(t, df, nil))
	if r.code == 0 {
		t.Fatalf("ADD with a wrong --checksum succeeded:\n%s", r.stderr)
	}
	for _, w := range []string{"Dockerfile:2", wrong} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

func TestBuildArgs(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\nARG GREETING=hello\nRUN echo \"$GREETING\" > /greeting\n"
	r := s.must("build", "--progress=plain", "-t", "args", "--build-arg", "GREETING=hola", "--build-arg", "NOTUSED=1", bldContext(t, df, nil))
	if got := bldFile(t, bldExport(t, s, "args"), "greeting"); got != "hola\n" {
		t.Errorf("/greeting = %q, want %q", got, "hola\n")
	}
	var warning string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "not consumed") {
			warning = l
		}
	}
	if !strings.Contains(warning, "NOTUSED") || strings.Contains(warning, "GREETING") {
		t.Errorf("want a \"not consumed\" warning naming NOTUSED only, got %q; stderr:\n%s", warning, r.stderr)
	}
}

func TestBuildDockerfileFromStdin(t *testing.T) {
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{"data.txt": "from the context\n"}) // no Dockerfile in it
	df := "FROM busybox\nCOPY data.txt /data.txt\nRUN echo stdin > /stdin\n"
	r := s.runIn([]byte(df), "build", "-f", "-", "-t", "stdin", ctx)
	if r.code != 0 {
		t.Fatalf("build -f -: exit %d\n%s", r.code, r.stderr)
	}
	e := bldExport(t, s, "stdin")
	if got := bldFile(t, e, "data.txt"); got != "from the context\n" {
		t.Errorf("/data.txt = %q", got)
	}
	if got := bldFile(t, e, "stdin"); got != "stdin\n" {
		t.Errorf("/stdin = %q", got)
	}
}

func TestBuildIidfileLabelsTags(t *testing.T) {
	s := newStrata(t)
	iid := filepath.Join(t.TempDir(), "iid")
	s.must("build", "--iidfile", iid, "--label", "org.example.team=strata", "--label", "stage=e2e",
		"-t", "multi:one", "-t", "example.com/other/multi:two", bldContext(t, "FROM busybox\nRUN echo x > /x\n", nil))
	data, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(got) {
		t.Fatalf("--iidfile holds %q, want sha256:<64 hex>", got)
	}
	for _, ref := range []string{"multi:one", "example.com/other/multi:two"} {
		if id := bldImageID(t, s, ref); id != got {
			t.Errorf("inspect %s: ID %s, want the --iidfile's %s", ref, id, got)
		}
	}
	labels := s.must("inspect", "--format", `{{index .Config.Labels "org.example.team"}} {{index .Config.Labels "stage"}}`, "multi:one").stdout
	if strings.TrimSpace(labels) != "strata e2e" {
		t.Errorf("labels = %q, want %q", labels, "strata e2e")
	}
}

func TestBuildProgressFormats(t *testing.T) {
	s := newStrata(t)
	ctx := bldContext(t, "FROM busybox\nRUN echo progress-line\nCOPY f.txt /f.txt\n", map[string]string{"f.txt": "f\n"})
	r := s.must("build", "--progress=plain", ctx)
	for _, re := range []string{
		`(?m)^#\d+ \[1/3\] FROM busybox$`,
		`(?m)^#\d+ \[2/3\] RUN echo progress-line$`,
		`(?m)^#\d+ \d+\.\d{3} progress-line$`,
		`(?m)^#\d+ \[3/3\] COPY f.txt /f.txt$`,
		`(?m)^#\d+ DONE \d+\.\ds$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stderr) {
			t.Errorf("plain progress does not match %s:\n%s", re, r.stderr)
		}
	}

	r = s.must("build", "--progress=json", "--no-cache", ctx)
	statuses := map[string]bool{}
	logged := false
	lines := 0
	for _, l := range strings.Split(r.stderr, "\n") {
		if l == "" {
			continue
		}
		lines++
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Errorf("line %q of --progress=json is not a JSON object: %v", l, err)
			continue
		}
		st, _ := ev["status"].(string)
		statuses[st] = true
		if ev["line"] == "progress-line" {
			logged = true
		}
	}
	if lines < 4 || !statuses["started"] || !statuses["done"] || !logged {
		t.Errorf("--progress=json: %d lines, statuses %v, RUN output logged %v; want started, done and the output:\n%s", lines, statuses, logged, r.stderr)
	}
}

func TestBuildOnbuildTriggers(t *testing.T) {
	s := newStrata(t)
	s.must("build", "-t", "parent", bldContext(t, "FROM busybox\nONBUILD RUN echo triggered > /onbuild\nRUN echo parent > /parent\n", nil))
	if _, ok := bldExport(t, s, "parent")["onbuild"]; ok {
		t.Errorf("the ONBUILD trigger ran in the image that declares it")
	}
	s.must("build", "-t", "child", bldContext(t, "FROM parent\nRUN cat /onbuild > /seen\n", nil))
	e := bldExport(t, s, "child")
	if got := bldFile(t, e, "seen"); got != "triggered\n" {
		t.Errorf("/seen = %q, want %q", got, "triggered\n")
	}
	if got := strings.TrimSpace(s.must("inspect", "--format", "{{len .Config.OnBuild}}", "child").stdout); got != "0" {
		t.Errorf("the child keeps %s ONBUILD triggers, want 0", got)
	}
}

func TestBuildUserOwnsItsFiles(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\nUSER app\nRUN mkdir /tmp/appdir && echo x > /tmp/appdir/f && id -u > /tmp/uid\n"
	s.must("build", "-t", "owned", bldContext(t, df, nil))
	e := bldExport(t, s, "owned")
	for _, name := range []string{"tmp/appdir", "tmp/appdir/f", "tmp/uid"} {
		en, ok := e[name]
		if !ok {
			t.Errorf("the image has no %s", name)
			continue
		}
		if en.hdr.Uid != 1000 || en.hdr.Gid != 1000 {
			t.Errorf("%s is owned %d:%d, want 1000:1000", name, en.hdr.Uid, en.hdr.Gid)
		}
	}
	if got := bldFile(t, e, "tmp/uid"); got != "1000\n" {
		t.Errorf("id -u in the RUN printed %q, want 1000", got)
	}
}

func TestBuildThenRun(t *testing.T) {
	s := newStrata(t)
	r := s.must("run", "-e", "K=V", "-w", "/tmp", "-u", "app", "busybox", "sh", "-c", "id; pwd; echo $K")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("run printed %q, want 3 lines", r.stdout)
	}
	for _, w := range []string{"uid=1000(app)", "gid=1000(app)", "50(staff)"} {
		if !strings.Contains(lines[0], w) {
			t.Errorf("id printed %q, want %q in it", lines[0], w)
		}
	}
	if lines[1] != "/tmp" {
		t.Errorf("pwd printed %q, want /tmp", lines[1])
	}
	if lines[2] != "V" {
		t.Errorf("echo $K printed %q, want V", lines[2])
	}
	if r := s.run("run", "busybox", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("run of exit 7 exited %d, want 7 (stderr %q)", r.code, r.stderr)
	}
	bldNoMounts(t, s)
}
