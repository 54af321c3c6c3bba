package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tutorial's format, which this test reads:
//
//   - Only fenced blocks opened by ```console are run; ```dockerfile, ```sh
//     and others are for reading.
//   - In a console block, a line starting with "$ " is a command. A command
//     ending in "\" continues on the next line; a command with a here-document
//     (<<'EOF' or <<EOF) takes the lines up to the terminator with it.
//   - The lines after a command, up to the next command or the end of the
//     block, are its expected output (stdout and stderr as one stream). A
//     line "..." stands for any number of lines.
//   - Each command runs with bash -c in one working directory, with `strata`
//     on PATH, a fresh STRATA_ROOT and busybox.tar (the e2e base) in the
//     directory. The commands run in the order of the file and must succeed.
//
// Outputs are compared line by line, field by field, after masking what
// changes from run to run: image IDs and digests, "CREATED" ages, durations
// and timestamps. Sizes match within 10% or 2 kB, percentages within 2
// points.

// tutorialCmd is one command of a tutorial with its expected output.
type tutorialCmd struct {
	line   int    // line of the "$ " in the file
	script string // what bash -c runs
	want   []string
}

// parseTutorial extracts the console blocks' commands from a Markdown file.
func parseTutorial(r io.Reader) ([]tutorialCmd, error) {
	var (
		cmds    []tutorialCmd
		inBlock bool
		inOther bool
		cur     *tutorialCmd
		heredoc string // terminator while reading a here-document
		cont    bool   // previous command line ended with a backslash
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	heredocRe := regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_]+)['"]?`)
	flush := func() {
		if cur != nil {
			for len(cur.want) > 0 && strings.TrimSpace(cur.want[len(cur.want)-1]) == "" {
				cur.want = cur.want[:len(cur.want)-1]
			}
			cmds = append(cmds, *cur)
			cur = nil
		}
	}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.HasPrefix(strings.TrimSpace(line), "```")
		switch {
		case inOther:
			if fence {
				inOther = false
			}
			continue
		case !inBlock && fence:
			if strings.TrimSpace(line) == "```console" {
				inBlock = true
			} else {
				inOther = true
			}
			continue
		case !inBlock:
			continue
		}
		// Inside a console block.
		switch {
		case heredoc != "":
			cur.script += "\n" + line
			if line == heredoc {
				heredoc = ""
			}
		case cont:
			cur.script += "\n" + line
			cont = strings.HasSuffix(line, `\`)
		case fence:
			flush()
			inBlock = false
		case strings.HasPrefix(line, "$ "):
			flush()
			cur = &tutorialCmd{line: n, script: strings.TrimPrefix(line, "$ ")}
			cont = strings.HasSuffix(line, `\`)
			if m := heredocRe.FindStringSubmatch(line); m != nil {
				heredoc = m[1]
			}
		case cur == nil:
			if strings.TrimSpace(line) != "" {
				return nil, fmt.Errorf("line %d: output %q before any command", n, line)
			}
		default:
			cur.want = append(cur.want, strings.TrimRight(line, " \t"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if inBlock || heredoc != "" {
		return nil, fmt.Errorf("unterminated console block or here-document")
	}
	return cmds, nil
}

var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`sha256:[0-9a-f]{64}`), "sha256:<digest>"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "<digest>"},
	{regexp.MustCompile(`\b[0-9a-f]{12}\b`), "<id>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?( ?(Z|[+-]\d\d:?\d\d))?( [A-Z]{3,4})?`), "<time>"},
	{regexp.MustCompile(`(Less than a second|About a minute|About an hour|an? (second|minute|hour|day|week|month|year)|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?)) ago`), "<created>"},
	{regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|us|ms|s|m\d+(\.\d+)?s|h\d+m\d+(\.\d+)?s)\b`), "<duration>"},
	{regexp.MustCompile(`\b(\d+(?:\.\d+)?) (B|kB|KB|MB|GB|KiB|MiB|GiB)\b`), "$1$2"},
}

// maskLine replaces what changes between runs by placeholders.
func maskLine(s string) string {
	for _, m := range masks {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return s
}

var (
	sizeRe    = regexp.MustCompile(`^(.*?)(\d+(?:\.\d+)?)(B|kB|KB|MB|GB|KiB|MiB|GiB)(.*)$`)
	percentRe = regexp.MustCompile(`^(.*?)(\d+(?:\.\d+)?)%(.*)$`)
	units     = map[string]float64{"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
)

// fieldsMatch compares two masked fields, sizes and percentages with a
// tolerance.
func fieldsMatch(got, want string) bool {
	if got == want {
		return true
	}
	if g, w := sizeRe.FindStringSubmatch(got), sizeRe.FindStringSubmatch(want); g != nil && w != nil {
		if g[1] != w[1] || g[4] != w[4] {
			return false
		}
		gv, _ := strconv.ParseFloat(g[2], 64)
		wv, _ := strconv.ParseFloat(w[2], 64)
		gb, wb := gv*units[g[3]], wv*units[w[3]]
		return math.Abs(gb-wb) <= math.Max(0.10*wb, 2000)
	}
	if g, w := percentRe.FindStringSubmatch(got), percentRe.FindStringSubmatch(want); g != nil && w != nil {
		if g[1] != w[1] || g[3] != w[3] {
			return false
		}
		gv, _ := strconv.ParseFloat(g[2], 64)
		wv, _ := strconv.ParseFloat(w[2], 64)
		return math.Abs(gv-wv) <= 2
	}
	return false
}

// linesMatch compares one output line with one expected line.
func linesMatch(got, want string) bool {
	g, w := strings.Fields(maskLine(got)), strings.Fields(maskLine(want))
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		if !fieldsMatch(g[i], w[i]) {
			return false
		}
	}
	return true
}

// outputMatches reports whether got matches want, where a want line "..."
// matches any number of got lines.
func outputMatches(got, want []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "..." {
		for i := 0; i <= len(got); i++ {
			if outputMatches(got[i:], want[1:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && linesMatch(got[0], want[0]) && outputMatches(got[1:], want[1:])
}

// splitOutput turns a command's output into lines, without trailing blanks.
func splitOutput(out string) []string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// TestTutorial runs every command of docs/tutorial.md and docs/tutorial.fr.md
// in a fresh store and checks that the documented outputs still hold.
func TestTutorial(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("the tutorial compiles hello.c with gcc -static: apt-get install gcc libc6-dev (scripts/deps.sh does): %v", err)
	}
	_, self, _, _ := runtime.Caller(0)
	docs := filepath.Join(filepath.Dir(self), "..", "..", "docs")
	for _, tc := range []struct{ lang, file string }{
		{"en", "tutorial.md"},
		{"fr", "tutorial.fr.md"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(filepath.Join(docs, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmds, err := parseTutorial(f)
			if err != nil {
				t.Fatalf("%s: %v", tc.file, err)
			}
			if len(cmds) == 0 {
				t.Fatalf("%s: no ```console commands", tc.file)
			}
			failed := runTutorial(t, tc.file, cmds)
			if failed == 0 {
				msg := fmt.Sprintf("tutorial (%s): %d commands, all outputs match", tc.lang, len(cmds))
				t.Log(msg)
				fmt.Println(msg)
			} else {
				t.Errorf("tutorial (%s): %d commands, %d outputs differ", tc.lang, len(cmds), failed)
			}
		})
	}
}

// runTutorial runs cmds in a fresh directory and store and returns how many
// outputs did not match (each one reported).
func runTutorial(t *testing.T, file string, cmds []tutorialCmd) int {
	work := t.TempDir()
	bin := filepath.Join(work, ".bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(env.bin, filepath.Join(bin, "strata")); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(env.busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "busybox.tar"), base, 0o644); err != nil {
		t.Fatal(err)
	}
	environ := append(os.Environ(),
		"PATH="+bin+":"+os.Getenv("PATH"),
		"STRATA_ROOT="+filepath.Join(t.TempDir(), "store"),
		"LC_ALL=C",
		"TERM=dumb",
	)
	failed := 0
	for _, c := range cmds {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", c.script)
		cmd.Dir = work
		cmd.Env = environ
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		got := splitOutput(out.String())
		if err != nil {
			t.Fatalf("%s:%d: $ %s\n%v; output:\n%s", file, c.line, c.script, err, out.String())
		}
		if !outputMatches(got, c.want) {
			failed++
			t.Errorf("%s:%d: $ %s\noutput differs from the tutorial's.\ngot:\n%s\nwant:\n%s",
				file, c.line, c.script, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
	return failed
}

// TestTutorialFormat checks the parser and the comparison on a small sample,
// so that a tutorial mismatch is the tutorial's fault and not the reader's.
func TestTutorialFormat(t *testing.T) {
	doc := "Prose.\n\n```dockerfile\nFROM busybox\n```\n\n```console\n$ cat > a <<'EOF'\nx\n$ y\nEOF\n$ echo one \\\n  two\none two\n\n$ true\n```\n\n```sh\n$ not run\n```\n"
	cmds, err := parseTutorial(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 3 {
		t.Fatalf("got %d commands, want 3: %+v", len(cmds), cmds)
	}
	if got, want := cmds[0].script, "cat > a <<'EOF'\nx\n$ y\nEOF"; got != want {
		t.Errorf("here-document: got %q, want %q", got, want)
	}
	if got, want := strings.Join(cmds[1].want, "|"), "one two"; got != want {
		t.Errorf("continued command's output: got %q, want %q", got, want)
	}
	for _, tc := range []struct {
		got, want string
		match     bool
	}{
		{"hello  single  586876d0f9bd  2 seconds ago  22.1MB", "hello single 938430a44c1f About a minute ago 22.5MB", true},
		{"hello single 586876d0f9bd 2 seconds ago 22.1MB", "hello single 586876d0f9bd 2 seconds ago 2.13MB", false},
		{"layer 0B", "layer 1.5kB", true},
		{"layer 0B", "layer 3.07kB", false},
		{"#2 DONE 0.4s", "#2 DONE 12.0s", true},
		{"#2 DONE 0.4s", "#3 DONE 0.4s", false},
		{"efficiency 52.0%", "efficiency 53.5%", true},
		{"writing image sha256:" + strings.Repeat("a", 64), "writing image sha256:" + strings.Repeat("b", 64), true},
	} {
		if got := linesMatch(tc.got, tc.want); got != tc.match {
			t.Errorf("linesMatch(%q, %q) = %v, want %v", tc.got, tc.want, got, tc.match)
		}
	}
	if !outputMatches([]string{"a", "b", "c", "d"}, []string{"a", "...", "d"}) || outputMatches([]string{"a", "b"}, []string{"a", "...", "c"}) {
		t.Error(`"..." does not stand for any number of lines`)
	}
}
