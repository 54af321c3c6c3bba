package buildcheck

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/strata-build/strata/internal/dockerfile"
)

// strata's rule names, beside BuildKit's.
const (
	AptInstallRecommends = "AptInstallRecommends"
	AptListsLeft         = "AptListsLeft"
	DeletedLater         = "DeletedLater"
	ChmodAfterCopy       = "ChmodAfterCopy"
	AddArchiveThenRemove = "AddArchiveThenRemove"
	PackageCacheLeft     = "PackageCacheLeft"
	CompilerInFinalStage = "CompilerInFinalStage"
	CopyAllNoIgnore      = "CopyAllWithoutDockerignore"
	ruleMountError       = "InvalidMount"
)

// runText returns the shell text of a RUN (its heredocs included).
func runText(c *instructions.RunCommand) string {
	text := strings.Join(c.CmdLine, " ")
	for _, f := range c.Files {
		text += "\n" + f.Data
	}
	return text
}

// cacheMounted reports whether c mounts a cache at dir or above it.
func cacheMounted(c *instructions.RunCommand, dir string) bool {
	for _, m := range instructions.GetMounts(c) {
		if m.Type == instructions.MountTypeCache && (m.Target == dir || strings.HasPrefix(dir, strings.TrimSuffix(m.Target, "/")+"/")) {
			return true
		}
	}
	return false
}

var (
	aptInstall = regexp.MustCompile(`\bapt(-get)?\s+(-\S+\s+)*install\b`)
	aptUpdate  = regexp.MustCompile(`\bapt(-get)?\s+(-\S+\s+)*update\b`)
	rmArgs     = regexp.MustCompile(`\brm\s+((?:-\S+\s+)*)([^;&|\n]+)`)
	modeCmd    = regexp.MustCompile(`\b(chmod|chown|chgrp)\s+((?:-\S+\s+)*)(\S+)\s+([^;&|\n]+)`)
	pipInstall = regexp.MustCompile(`\bpip3?\s+install\b`)
	npmInstall = regexp.MustCompile(`\bnpm\s+(install|ci|i)\b`)
	compilers  = regexp.MustCompile(`\b(build-essential|gcc|g\+\+|clang|golang(-go)?|make|cmake|musl-dev|libc6-dev|rustc|cargo)\b`)
	commandSep = regexp.MustCompile(`&&|;|\|\|`)
	archive    = regexp.MustCompile(`\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|zip)$`)
)

// sizeRules runs strata's rules on every stage of df.
func sizeRules(df *dockerfile.Dockerfile, opts Options) []Violation {
	var out []Violation
	add := func(rule string, loc []parser.Range, msg, fix string, source ...int) {
		v := Violation{Rule: rule, Source: Strata, File: df.File, Line: dockerfile.Line(loc), Message: msg, Fix: fix}
		if len(source) > 0 {
			v.SourceLine = source[0]
		}
		out = append(out, v)
	}
	last := len(df.Stages) - 1
	for si, st := range df.Stages {
		var earlier []written
		for _, cmd := range st.Commands {
			switch c := cmd.(type) {
			case *instructions.RunCommand:
				// Expanding (with words kept as written) parses the
				// --mount flags that cacheMounted reads.
				if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
					add(ruleMountError, c.Location(), fmt.Sprintf("RUN --mount does not parse: %v", err), "fix the --mount flag")
				}
				text := runText(c)
				runRules(c, text, add)
				laterRules(df.File, c, text, earlier, add)
				if si == last && (aptInstall.MatchString(text) || strings.Contains(text, "apk add")) {
					if m := compilers.FindString(afterInstall(text)); m != "" {
						add(CompilerInFinalStage, c.Location(), fmt.Sprintf("the final stage installs %s: compilers and build tools stay in the image", m),
							"compile in a build stage (FROM ... AS build) and COPY --from=build only what runs into a final stage without the toolchain")
					}
				}
				earlier = append(earlier, written{line: dockerfile.Line(c.Location()), text: text, kind: "RUN"})
			case *instructions.CopyCommand:
				for _, s := range c.SourcePaths {
					if (s == "." || s == "./") && c.From == "" && opts.ContextDir != "" {
						if _, err := os.Stat(filepath.Join(opts.ContextDir, ".dockerignore")); os.IsNotExist(err) {
							add(CopyAllNoIgnore, c.Location(), "COPY . copies the whole build context, and the context has no .dockerignore",
								"add a .dockerignore listing what the image does not need (.git, build outputs, node_modules, ...), or COPY only the files needed")
						}
					}
				}
				earlier = append(earlier, written{line: dockerfile.Line(c.Location()), dest: c.DestPath, sources: c.SourcePaths, kind: "COPY"})
			case *instructions.AddCommand:
				w := written{line: dockerfile.Line(c.Location()), dest: c.DestPath, sources: c.SourcePaths, kind: "ADD"}
				for _, s := range c.SourcePaths {
					if archive.MatchString(s) {
						w.archive = true
					}
				}
				earlier = append(earlier, w)
			}
		}
	}
	return out
}

// written is an earlier instruction of the stage that wrote files.
type written struct {
	line    int
	kind    string // RUN, COPY or ADD
	text    string // RUN's shell text
	dest    string
	sources []string
	archive bool
}

// runRules are the rules about one RUN alone.
func runRules(c *instructions.RunCommand, text string, add func(string, []parser.Range, string, string, ...int)) {
	if aptInstall.MatchString(text) && !strings.Contains(text, "--no-install-recommends") && !strings.Contains(text, "Install-Recommends") {
		add(AptInstallRecommends, c.Location(), "apt-get install without --no-install-recommends also installs the packages the ones named recommend",
			"add --no-install-recommends (and name the recommended packages you need)")
	}
	if (aptInstall.MatchString(text) || aptUpdate.MatchString(text)) && !strings.Contains(text, "/var/lib/apt/lists") && !cacheMounted(c, "/var/lib/apt/lists") {
		add(AptListsLeft, c.Location(), "this RUN leaves apt's package lists (/var/lib/apt/lists, tens of MB) in its layer",
			"end the RUN with `&& rm -rf /var/lib/apt/lists/*`, or mount a cache there (RUN --mount=type=cache,target=/var/lib/apt/lists)")
	}
	if pipInstall.MatchString(text) && !strings.Contains(text, "--no-cache-dir") && !cacheMounted(c, "/root/.cache/pip") && !strings.Contains(text, "PIP_NO_CACHE_DIR") {
		add(PackageCacheLeft, c.Location(), "pip install keeps its download cache (/root/.cache/pip) in the layer",
			"use `pip install --no-cache-dir`, or RUN --mount=type=cache,target=/root/.cache/pip")
	}
	if npmInstall.MatchString(text) && !strings.Contains(text, "npm cache clean") && !cacheMounted(c, "/root/.npm") {
		add(PackageCacheLeft, c.Location(), "npm install keeps its cache (/root/.npm) in the layer",
			"end the RUN with `&& npm cache clean --force`, or RUN --mount=type=cache,target=/root/.npm")
	}
	if strings.Contains(text, "go build") && !cacheMounted(c, "/root/.cache/go-build") && !strings.Contains(text, "go clean") {
		add(PackageCacheLeft, c.Location(), "go build keeps its build cache (/root/.cache/go-build) in the layer",
			"build in a separate stage and COPY the binary, or RUN --mount=type=cache,target=/root/.cache/go-build")
	}
}

// laterRules are the rules about a RUN undoing or redoing what an earlier
// instruction wrote.
func laterRules(file string, c *instructions.RunCommand, text string, earlier []written, add func(string, []parser.Range, string, string, ...int)) {
	for _, m := range rmArgs.FindAllStringSubmatch(text, -1) {
		for _, p := range strings.Fields(m[2]) {
			if !path.IsAbs(p) || strings.ContainsAny(p, "*?$") && !strings.HasSuffix(p, "/*") {
				continue
			}
			p = strings.TrimSuffix(strings.TrimSuffix(p, "/*"), "/")
			for _, w := range earlier {
				if !w.touches(p) {
					continue
				}
				if w.archive {
					add(AddArchiveThenRemove, c.Location(), fmt.Sprintf("this RUN deletes %s, which the ADD of an archive at %s:%d wrote: the archive's bytes stay in that layer", p, file, w.line),
						"fetch, extract and delete the archive in one RUN (curl | tar), or extract it in a build stage and COPY --from the result", w.line)
				} else {
					add(DeletedLater, c.Location(), fmt.Sprintf("this RUN deletes %s, which %s at %s:%d wrote: deleting in a later layer saves nothing", p, w.kind, file, w.line),
						"delete in the same RUN that creates the files, or create them in a build stage and COPY --from only what is needed; or build with --squash", w.line)
				}
				break
			}
		}
	}
	for _, m := range modeCmd.FindAllStringSubmatch(text, -1) {
		for _, p := range strings.Fields(m[4]) {
			for _, w := range earlier {
				if (w.kind == "COPY" || w.kind == "ADD") && w.touches(strings.TrimSuffix(p, "/")) {
					flag := "--chmod"
					if m[1] != "chmod" {
						flag = "--chown"
					}
					add(ChmodAfterCopy, c.Location(), fmt.Sprintf("%s of %s, which the %s at %s:%d wrote, copies every file it touches whole into a new layer", m[1], p, w.kind, file, w.line),
						fmt.Sprintf("set it in the %s at %s:%d with %s=%s, and drop the %s", w.kind, file, w.line, flag, m[3], m[1]), w.line)
					break
				}
			}
		}
	}
}

// touches reports whether the instruction w wrote p or something under or
// above it.
func (w written) touches(p string) bool {
	if w.kind == "RUN" {
		return strings.Contains(w.text, p)
	}
	dest := w.dest
	if !path.IsAbs(dest) {
		return false
	}
	dests := []string{path.Clean(dest)}
	if strings.HasSuffix(dest, "/") {
		for _, s := range w.sources {
			dests = append(dests, path.Join(dest, path.Base(s)))
		}
	}
	for _, d := range dests {
		if d == p || strings.HasPrefix(p, d+"/") || (d != "/" && strings.HasPrefix(d, p+"/")) {
			return true
		}
	}
	return false
}

// afterInstall returns what follows the install verbs of text, where
// package names are.
func afterInstall(text string) string {
	var out []string
	for _, part := range commandSep.Split(text, -1) {
		if aptInstall.MatchString(part) || strings.Contains(part, "apk add") {
			out = append(out, part)
		}
	}
	return strings.Join(out, " ")
}
