package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// splitCommand splits a command line of docs/docker-cli.md into words:
// spaces separate them, single quotes group them.
func splitCommand(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestDockerCLITable runs every row of docs/docker-cli.md, in order, on one
// store: "works" rows must exit 0, "refused: MESSAGE" rows must fail and
// print MESSAGE. The table is what a docker user reads; this keeps it true.
func TestDockerCLITable(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	doc, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "..", "docs", "docker-cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := newStrata(t)
	dir := bldContext(t, "FROM busybox\nRUN echo built > /b\n", nil)
	tarball, err := os.ReadFile(env.busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rootfs.tar"), tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) != 3 || !strings.HasPrefix(cells[1], "`strata ") {
			continue
		}
		rows++
		args := splitCommand(t, strings.Trim(cells[1], "`"))[1:]
		outcome := strings.TrimSuffix(strings.TrimSpace(cells[2]), " |")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(env.bin, append([]string{"--root", s.root}, args...)...)
			cmd.Dir = dir
			cmd.Stdin = strings.NewReader("typed\n")
			out, err := cmd.CombinedOutput()
			switch {
			case strings.HasPrefix(outcome, "works"):
				if err != nil {
					t.Errorf("the table says it works: %v\n%s", err, out)
				}
			case strings.HasPrefix(outcome, "refused: "):
				want := strings.TrimPrefix(outcome, "refused: ")
				if err == nil || !strings.Contains(string(out), want) {
					t.Errorf("the table says it is refused with %q: %v\n%s", want, err, out)
				}
			default:
				t.Fatalf("outcome %q: want works or refused: MESSAGE", outcome)
			}
		})
	}
	if rows < 40 {
		t.Errorf("read %d rows from docs/docker-cli.md: the table's format changed?", rows)
	}
}
