package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStageOnbuildTriggers builds stages FROM stages that declare ONBUILD
// triggers: as with docker, a stage's triggers run in the stage built FROM
// it, before its own instructions, and leave its config; the image keeps
// only the ONBUILD of its own stage, and no history entry of any ONBUILD.
func TestStageOnbuildTriggers(t *testing.T) {
	s := newStrata(t)
	df := `FROM busybox AS parent
RUN mkdir /app
ONBUILD RUN echo triggered > /app/parent-trigger.txt
ONBUILD ENV FROM_TRIGGER=yes

FROM parent AS child
RUN echo "child: [$FROM_TRIGGER]" > /app/child.txt
ONBUILD RUN echo child-trigger > /app/child-trigger.txt

FROM child
RUN ls /app > /app/final.txt
ONBUILD RUN echo never-run-here
`
	s.must("build", "-q", "-t", "onb", bldContext(t, df, nil))
	if got, want := s.must("run", "--rm", "onb", "cat", "/app/final.txt", "/app/child.txt").stdout,
		"child-trigger.txt\nchild.txt\nfinal.txt\nparent-trigger.txt\nchild: [yes]\n"; got != want {
		t.Errorf("files = %q, want %q", got, want)
	}
	var ii []struct {
		Config struct {
			Env     []string
			OnBuild []string
		}
	}
	if err := json.Unmarshal([]byte(s.must("inspect", "onb").stdout), &ii); err != nil || len(ii) != 1 {
		t.Fatalf("inspect: %v %+v", err, ii)
	}
	if diff := cmp.Diff(ii[0].Config.OnBuild, []string{"RUN echo never-run-here"}); diff != "" {
		t.Errorf("OnBuild (-got +want):\n%s", diff)
	}
	if !strings.Contains(strings.Join(ii[0].Config.Env, "\n"), "FROM_TRIGGER=yes") {
		t.Errorf("Env %q has no FROM_TRIGGER=yes from the trigger", ii[0].Config.Env)
	}
	// As in BuildKit, an ONBUILD instruction makes no history entry; the
	// triggers that ran make theirs.
	hist := s.must("history", "--no-trunc", "--format", "{{.CreatedBy}}", "onb").stdout
	if strings.Contains(hist, "ONBUILD") || !strings.Contains(hist, "echo child-trigger") {
		t.Errorf("history:\n%s", hist)
	}
}

// TestStageArgScope checks ARG scope as docker's BuildKit has it: a stage
// built FROM a stage sees that stage's ARG values in its RUNs (they are part
// of the state's environment) though they are not in the image's Env, and
// a global ARG declared again in a stage takes the global default or the
// --build-arg.
func TestStageArgScope(t *testing.T) {
	s := newStrata(t)
	df := `ARG GLOBAL=global-default
ARG CLI=global-cli-default
FROM busybox AS base
ARG GLOBAL
ARG CLI
ARG LOCAL=local-default
ENV FROM_ENV=env-value
RUN echo "base GLOBAL=[$GLOBAL] CLI=[$CLI] LOCAL=[$LOCAL] FROM_ENV=[$FROM_ENV]" > /out

FROM base AS child
RUN echo "child GLOBAL=[$GLOBAL] CLI=[$CLI] LOCAL=[$LOCAL] FROM_ENV=[$FROM_ENV]" >> /out
ARG LOCAL=child-default
RUN echo "child LOCAL=[$LOCAL]" >> /out

FROM child
RUN echo "grandchild LOCAL=[$LOCAL] CLI=[$CLI]" >> /out
`
	s.must("build", "-q", "-t", "args", "--build-arg", "CLI=from-cli", bldContext(t, df, nil))
	want := "base GLOBAL=[global-default] CLI=[from-cli] LOCAL=[local-default] FROM_ENV=[env-value]\n" +
		"child GLOBAL=[global-default] CLI=[from-cli] LOCAL=[local-default] FROM_ENV=[env-value]\n" +
		"child LOCAL=[child-default]\n" +
		"grandchild LOCAL=[child-default] CLI=[from-cli]\n"
	if got := s.must("run", "--rm", "args", "cat", "/out").stdout; got != want {
		t.Errorf("/out:\n%s\nwant:\n%s", got, want)
	}
	var ii []struct{ Config struct{ Env []string } }
	if err := json.Unmarshal([]byte(s.must("inspect", "args").stdout), &ii); err != nil || len(ii) != 1 {
		t.Fatalf("inspect: %v %+v", err, ii)
	}
	for _, kv := range ii[0].Config.Env {
		if strings.HasPrefix(kv, "LOCAL=") || strings.HasPrefix(kv, "CLI=") || strings.HasPrefix(kv, "GLOBAL=") {
			t.Errorf("the image's Env has the ARG %s", kv)
		}
	}
}

// TestStageCreatedDirs checks the directories WORKDIR and COPY create in a
// real build: as mkdir in the container makes them (0755, setgid bit and
// group of a setgid parent), owned by the COPY --chown owner or the USER.
func TestStageCreatedDirs(t *testing.T) {
	s := newStrata(t)
	df := `FROM busybox
RUN mkdir -p /sg && chgrp 50 /sg && chmod 2775 /sg
WORKDIR /sg/work/deep
COPY f.txt /sg/copied/sub/
COPY --chown=1000:1000 f.txt /sg/chowned/sub/
COPY --chown=1000:50 f.txt /plain/chowned/sub/
USER 1000
WORKDIR /sg/userwd/x
USER root
`
	s.must("build", "-q", "-t", "dirs", bldContext(t, df, map[string]string{"f.txt": "x\n"}))
	dirs := []string{"/sg/work", "/sg/work/deep", "/sg/copied", "/sg/copied/sub", "/sg/chowned/sub", "/plain/chowned", "/sg/userwd/x"}
	got := s.must(append([]string{"run", "--rm", "dirs", "stat", "-c", "%n %A %u:%g"}, dirs...)...).stdout
	want := "/sg/work drwxr-sr-x 0:50\n/sg/work/deep drwxr-sr-x 0:50\n" +
		"/sg/copied drwxr-sr-x 0:50\n/sg/copied/sub drwxr-sr-x 0:50\n" +
		"/sg/chowned/sub drwxr-sr-x 1000:1000\n/plain/chowned drwxr-xr-x 1000:50\n" +
		"/sg/userwd/x drwxr-sr-x 1000:1000\n"
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("created directories (-got +want):\n%s", diff)
	}
}

// TestStageOnbuildCopyFrom builds a stage FROM a stage whose ONBUILD
// trigger copies from a third stage, which only the trigger needs: the plan
// must build that stage first.
func TestStageOnbuildCopyFrom(t *testing.T) {
	s := newStrata(t)
	df := `FROM busybox AS tools
RUN echo tool > /tool
FROM busybox AS parent
ONBUILD COPY --from=tools /tool /tool
FROM parent
`
	s.must("build", "-q", "-t", "onbcopy", bldContext(t, df, nil))
	if got := s.must("run", "--rm", "onbcopy", "cat", "/tool").stdout; got != "tool\n" {
		t.Errorf("/tool = %q, want %q", got, "tool\n")
	}
}

// TestWorkdirKeepsItsSpelling: an absolute WORKDIR goes into the config as
// written, trailing slash included, as BuildKit's dispatchWorkdir does
// (etcd's release image: WORKDIR /var/etcd/); a relative one is joined.
func TestWorkdirKeepsItsSpelling(t *testing.T) {
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nWORKDIR /var/lib/etcd/\nRUN test -d /var/lib/etcd\nFROM busybox\nWORKDIR /a\nWORKDIR b/../c/\n"})
	for _, c := range []struct{ target, want string }{{"0", "/var/lib/etcd/"}, {"1", "/a/c"}} {
		s.must("build", "-q", "--target", c.target, "-t", "wd:"+c.target, ctx)
		got := strings.TrimSpace(s.must("inspect", "--format", "{{.Config.WorkingDir}}", "wd:"+c.target).stdout)
		if got != c.want {
			t.Errorf("stage %s: WorkingDir %q, want %q", c.target, got, c.want)
		}
	}
}

// TestStageChownUnknownNames: a --chown user or group name the image lacks
// is not an error, as in BuildKit's readUser (solver/llbsolver/file/
// user_linux.go): an unknown user gives 0:0, an unknown group keeps the
// user's gid. strata says so in a warning that names the line.
func TestStageChownUnknownNames(t *testing.T) {
	s := newStrata(t)
	df := `FROM busybox
RUN true
COPY --chown=nosuchuser f.txt /u
COPY --chown=1000:nosuchgroup f.txt /g
COPY --chown=nosuchuser:50 f.txt /ug
`
	r := s.must("build", "--progress=plain", "-t", "chown-unknown", bldContext(t, df, map[string]string{"f.txt": "x\n"}))
	for _, w := range []string{`Dockerfile:3: COPY --chown=nosuchuser f.txt /u: --chown=nosuchuser: unknown user "nosuchuser"`,
		`Dockerfile:4: COPY --chown=1000:nosuchgroup f.txt /g: --chown=1000:nosuchgroup: unknown group "nosuchgroup"`} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	got := s.must("run", "--rm", "chown-unknown", "stat", "-c", "%n %u:%g", "/u", "/g", "/ug").stdout
	want := "/u 0:0\n/g 1000:1000\n/ug 0:50\n"
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("owners (-got +want):\n%s", diff)
	}
}
