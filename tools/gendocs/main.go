// Command gendocs writes strata's command reference from the command line
// itself: one Markdown page per command in DIR and one man page per command in
// DIR/man. `make docs` runs it on docs/reference; a test fails when the
// committed pages no longer match the CLI.
//
//	go run ./tools/gendocs docs/reference
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/strata-build/strata/internal/cli"
)

// manDate is the date in every man page's header. It is fixed so that the
// pages change only when the command line does.
var manDate = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	if err := generate(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

// generate replaces the reference in dir: strata*.md in dir, strata*.1 in
// dir/man. Pages of commands that no longer exist are removed.
func generate(dir string) error {
	man := filepath.Join(dir, "man")
	if err := os.MkdirAll(man, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", man, err)
	}
	for _, pattern := range []string{filepath.Join(dir, "strata*.md"), filepath.Join(man, "strata*.1")} {
		old, _ := filepath.Glob(pattern)
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("removing the old page %s: %w", f, err)
			}
		}
	}
	root := cli.NewRoot()
	disableAutoGenTag(root)
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return fmt.Errorf("writing the Markdown reference: %w", err)
	}
	header := &doc.GenManHeader{
		Section: "1",
		Date:    &manDate,
		Source:  "strata",
		Manual:  "strata manual",
	}
	if err := doc.GenManTree(root, header, man); err != nil {
		return fmt.Errorf("writing the man pages: %w", err)
	}
	return nil
}

// disableAutoGenTag drops cobra's "Auto generated ... on DATE" line from every
// page, so that regenerating the same CLI gives the same bytes.
func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}

// pageNames lists the reference's files under dir, relative to it.
func pageNames(dir string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".md") || strings.HasSuffix(p, ".1")) && strings.HasPrefix(d.Name(), "strata") {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	return names, err
}
