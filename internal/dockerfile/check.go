package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// CheckOptions describe the build a Dockerfile is checked for.
type CheckOptions struct {
	// Platform is the platform strata builds for and runs on ("linux/amd64").
	Platform string
	// FromEnv expands FROM --platform: the global ARGs and the automatic
	// platform ARGs (BUILDPLATFORM, TARGETPLATFORM...).
	FromEnv shell.EnvGetter
	// Stages are the indexes of the stages to check (those the build
	// runs); nil checks every stage.
	Stages []int
}

// Check returns the located refusals of what df asks for that BuildKit's
// parser accepts and strata does not do (yet): every flag, mount option
// and directive is either honoured by the build or refused here, with
// the Dockerfile's file:line, why, and what to do. docs/dockerfile-support.md
// lists both. The error joins one *Error per refusal; nil when none.
func Check(df *Dockerfile, opts CheckOptions) error {
	var errs []error
	refuse := func(loc []parser.Range, format string, args ...any) {
		errs = append(errs, Errorf(df.File, loc, format, args...))
	}
	for _, d := range df.Directives {
		checkDirective(d, refuse)
	}
	lex := df.Lex()
	for i := range df.Stages {
		if opts.Stages != nil && !slices.Contains(opts.Stages, i) {
			continue
		}
		st := &df.Stages[i]
		if st.Platform != "" {
			p, err := df.Expand(lex, st.Location, st.Platform, opts.FromEnv)
			if err != nil {
				errs = append(errs, err)
			} else if !samePlatform(p, opts.Platform) {
				refuse(st.Location, "FROM --platform=%s: strata builds for its host's platform (%s) only: remove --platform, or use --platform=$BUILDPLATFORM", p, opts.Platform)
			}
		}
		for _, cmd := range st.Commands {
			checkCommand(cmd, refuse)
		}
	}
	return errors.Join(errs...)
}

type refuser func(loc []parser.Range, format string, args ...any)

// checkDirective refuses a parser directive strata cannot honour.
func checkDirective(d parser.Directive, refuse refuser) {
	loc := d.Location
	if len(loc) > 0 && loc[0].Start.Line == 0 {
		loc = []parser.Range{{Start: parser.Position{Line: 1}}}
	}
	switch d.Name {
	case "syntax":
		img := strings.TrimPrefix(strings.TrimPrefix(d.Value, "docker.io/"), "index.docker.io/")
		name, _, _ := strings.Cut(img, "@")
		name, _, _ = strings.Cut(name, ":")
		if name != "docker/dockerfile" && name != "docker/dockerfile-upstream" {
			refuse(loc, "# syntax=%s: strata parses Dockerfiles itself (docker/dockerfile:1 syntax) and runs no other frontend: remove the directive", d.Value)
		}
	case "check":
		// skip= and error=true are honoured by internal/buildcheck, which
		// the build runs first when error=true.
		if _, err := linter.ParseLintOptions(d.Value); err != nil {
			refuse(loc, "# check=%s: %v", d.Value, err)
		}
	}
}

// checkCommand refuses the flags of one instruction that strata ignores.
func checkCommand(cmd instructions.Command, refuse refuser) {
	loc := cmd.Location()
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		if len(c.ExcludePatterns) > 0 {
			refuse(loc, "COPY --exclude is not supported yet: remove it and exclude the files with .dockerignore or a narrower source")
		}
		if c.Parents {
			refuse(loc, "COPY --parents is not supported yet: copy each directory to its full destination path instead")
		}
		if c.Link {
			refuse(loc, "COPY --link is not supported yet: remove --link (the files copied are the same; only cache reuse across base changes differs)")
		}
	case *instructions.AddCommand:
		if len(c.ExcludePatterns) > 0 {
			refuse(loc, "ADD --exclude is not supported yet: remove it and exclude the files with .dockerignore or a narrower source")
		}
		if c.Link {
			refuse(loc, "ADD --link is not supported yet: remove --link (the files added are the same; only cache reuse across base changes differs)")
		}
		if c.Unpack != nil {
			refuse(loc, "ADD --unpack is not supported yet: remove it (local tar archives are unpacked, URLs are not)")
		}
		if c.KeepGitDir != nil {
			refuse(loc, "ADD --keep-git-dir is not supported: strata does not add git repositories; clone in a RUN instead")
		}
	case *instructions.HealthCheckCommand:
		if c.Health != nil && c.Health.StartInterval != 0 {
			refuse(loc, "HEALTHCHECK --start-interval is not supported yet: remove it (the image config strata writes has no field for it)")
		}
	case *instructions.RunCommand:
		// BuildKit parses the mounts' key=value options only when the
		// words are expanded; expand them as written to see them now.
		// A mount that needs its variables is checked when it runs.
		if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
			return
		}
		checkRun(c, refuse)
	}
}

// CheckRun refuses, located in file, the RUN flags and mount options of
// c that strata ignores, once c's words are expanded (the build checks
// each RUN again when it runs it: Check sees the mounts unexpanded).
func CheckRun(file string, c *instructions.RunCommand) error {
	var errs []error
	checkRun(c, func(loc []parser.Range, format string, args ...any) {
		errs = append(errs, Errorf(file, loc, format, args...))
	})
	return errors.Join(errs...)
}

// Refusals returns, unlocated, why strata refuses the flags of cmd (an
// ONBUILD trigger of a base image, whose place the caller knows); none
// when it honours them all.
func Refusals(cmd instructions.Command) []string {
	var out []string
	checkCommand(cmd, func(_ []parser.Range, format string, args ...any) {
		out = append(out, fmt.Sprintf(format, args...))
	})
	return out
}

// checkRun refuses the RUN flags and mount options strata ignores.
func checkRun(c *instructions.RunCommand, refuse refuser) {
	loc := c.Location()
	if len(instructions.GetDevices(c)) > 0 {
		refuse(loc, "RUN --device is not supported yet: remove it (a RUN sees only the usual /dev nodes)")
	}
	for _, m := range instructions.GetMounts(c) {
		switch m.Type {
		case instructions.MountTypeSSH:
			refuse(loc, "RUN --mount=type=ssh is not supported yet: fetch what needs the SSH agent outside the build, or use a secret mount")
		case instructions.MountTypeCache:
			checkCacheMount(m, loc, refuse)
		}
	}
}

// checkCacheMount refuses the cache mount options strata ignores.
func checkCacheMount(m *instructions.Mount, loc []parser.Range, refuse refuser) {
	bad := func(opt string) {
		refuse(loc, "RUN --mount=type=cache,%s is not supported yet: remove it (the cache dir is shared between RUNs and empty at first)", opt)
	}
	if m.CacheSharing == instructions.MountSharingPrivate {
		bad("sharing=" + string(m.CacheSharing))
	}
	if m.From != "" {
		bad("from=" + m.From)
	}
	if m.Source != "" {
		bad("source=" + m.Source)
	}
}

// samePlatform reports whether platform p (os[/arch[/variant]]) is host.
func samePlatform(p, host string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		s = strings.Replace(s, "x86_64", "amd64", 1)
		s = strings.Replace(s, "aarch64", "arm64", 1)
		s = strings.TrimSuffix(s, "/v8") // arm64's default variant
		s = strings.TrimSuffix(s, "/v1") // amd64's
		return s
	}
	return norm(p) == norm(host)
}
