package conformance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Golden cases (GOLDEN=1 in case.env, or an expect.jsonl in the case) are
// built by strata only and compared with files of the case: expect.jsonl
// (the manifest), expect-config.txt (the config lines) and, with PARENT,
// expect-parent.jsonl and expect-parent-config.txt. For cases docker 20.10's
// BuildKit cannot build, or where newer BuildKit behaves otherwise.

// loadGolden reads a golden case's expectation. With EXPECT_FAIL there is
// none: the build must fail.
func loadGolden(c *caseSpec) (*snap, error) {
	if c.expectFail {
		return &snap{buildFailed: true}, nil
	}
	out := &snap{}
	files := []struct {
		name string
		dst  *[]string
	}{{"expect.jsonl", &out.tree}, {"expect-config.txt", &out.config}}
	if c.parent != "" {
		files = append(files, struct {
			name string
			dst  *[]string
		}{"expect-parent.jsonl", &out.parentTree}, struct {
			name string
			dst  *[]string
		}{"expect-parent-config.txt", &out.parentConfig})
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(c.dir, f.name))
		if err != nil {
			return nil, fmt.Errorf("golden case: %w (CONFORMANCE_WRITE_GOLDEN=1 writes it from strata's build, for review)", err)
		}
		if len(b) > 0 { // an empty file is no lines (an empty tree), not one empty line
			*f.dst = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		}
	}
	return out, nil
}

// writeGolden writes a golden case's expectation from a strata build.
func writeGolden(c *caseSpec, got *snap) error {
	if c.expectFail {
		if !got.buildFailed {
			return errors.New("EXPECT_FAIL: the build must fail, but strata accepted it")
		}
		return nil
	}
	if got.buildFailed {
		return fmt.Errorf("strata build failed; no golden files written\n%s", got.buildLog)
	}
	files := map[string][]string{"expect.jsonl": got.tree, "expect-config.txt": got.config}
	if c.parent != "" {
		files["expect-parent.jsonl"], files["expect-parent-config.txt"] = got.parentTree, got.parentConfig
	}
	for name, lines := range files {
		if err := writeLines(filepath.Join(c.dir, name), lines); err != nil {
			return err
		}
	}
	return nil
}

// writeLines writes lines, each ending in a newline.
func writeLines(path string, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// lineKey is what a manifest or config line is about: the path of a
// manifest line, the key of a config line. A quote inside a path is
// escaped, so the first `", "` ends the path.
func lineKey(l string) string {
	if strings.HasPrefix(l, `{"path": `) {
		if i := strings.Index(l, `", "`); i > 0 {
			return l[:i]
		}
		return l
	}
	if i := strings.Index(l, ": "); i > 0 {
		return l[:i]
	}
	return l
}

// diffLines returns the lines only in want ("-", the reference) or only in
// have ("+"), grouped by path or key, at most limit of them, under a heading
// naming what differs; "" when both are the same.
func diffLines(what, wantLabel, haveLabel string, want, have []string, limit int) string {
	count := func(ls []string) map[string]int {
		m := map[string]int{}
		for _, l := range ls {
			m[l]++
		}
		return m
	}
	inWant, inHave := count(want), count(have)
	type dl struct{ sign, line string }
	var d []dl
	for _, l := range want {
		if inHave[l] > 0 {
			inHave[l]--
			continue
		}
		d = append(d, dl{"-", l})
	}
	for _, l := range have {
		if inWant[l] > 0 {
			inWant[l]--
			continue
		}
		d = append(d, dl{"+", l})
	}
	if len(d) == 0 {
		return ""
	}
	sort.SliceStable(d, func(i, j int) bool {
		ki, kj := lineKey(d[i].line), lineKey(d[j].line)
		return ki < kj || (ki == kj && d[i].sign == "-" && d[j].sign == "+")
	})
	var b strings.Builder
	fmt.Fprintf(&b, "  %s differs (%d lines; - %s, + %s):\n", what, len(d), wantLabel, haveLabel)
	for i, x := range d {
		if i == limit {
			fmt.Fprintf(&b, "    ... %d more\n", len(d)-limit)
			break
		}
		l := x.sign + x.line
		if len(l) > 400 {
			l = l[:400] + "..."
		}
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}
