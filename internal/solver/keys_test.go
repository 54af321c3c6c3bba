package solver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/fscopy"
	"github.com/strata-build/strata/internal/plan"
	"github.com/strata-build/strata/internal/procspec"
)

// keysDockerfile has a layer step after each kind of instruction whose
// change should, or should not, reach the cache keys after it.
const keysDockerfile = `FROM scratch
ARG GIT_SHA
LABEL rev=$GIT_SHA
COPY a /a
EXPOSE 80
CMD ["x"]
ENTRYPOINT ["y"]
STOPSIGNAL SIGTERM
HEALTHCHECK CMD true
VOLUME /v
ONBUILD RUN x
MAINTAINER m
USER 0
SHELL ["/bin/sh", "-c"]
ENV E=1
COPY b /b
RUN one
ARG V=1
COPY c /c/
COPY d /d/$V/
WORKDIR /w
RUN two
`

// simulateKeys dispatches the target stage of src as a build does, with
// the steps' execution left out, and returns the cache key each layer step
// (RUN, COPY, WORKDIR) gets, by its instruction text. A RUN's key is made
// as dispatchRun makes it (with its network, security mode and mounts). A
// COPY's key is modelled as copyStep makes it: the filesystem key so far,
// the resolved destination and the sources (whose content digest is left
// out here; TestRerunRules covers content, COPY --from and bind mounts).
func simulateKeys(t *testing.T, src string, buildArgs map[string]string) map[string]string {
	t.Helper()
	df, err := dockerfile.Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(df, plan.Options{BuildArgs: buildArgs})
	if err != nil {
		t.Fatal(err)
	}
	ps := p.Stages[p.Target]
	s := &state{key: hashKey("scratch")}
	s.cfg.Config.Env = []string{"PATH=" + procspec.DefaultPath}
	opts := Options{BuildArgs: buildArgs, Network: "host", Allow: []string{EntitlementSecurityInsecure}}
	sr := &stageRun{b: &builder{opts: opts, df: df, plan: p},
		ps: ps, lex: df.Lex(), s: s, env: dockerfile.NewEnv(s.cfg.Config.Env)}
	keys := map[string]string{}
	for _, cmd := range ps.Src.Commands {
		text := instructionText(cmd)
		if err := sr.expandWords(cmd); err != nil {
			t.Fatal(err)
		}
		switch c := cmd.(type) {
		case *instructions.RunCommand:
			args, err := sr.runArgs(c)
			if err != nil {
				t.Fatal(err)
			}
			network, err := sr.b.runNetwork(c)
			if err != nil {
				t.Fatal(err)
			}
			security, err := sr.b.runSecurity(c)
			if err != nil {
				t.Fatal(err)
			}
			mk, err := sr.mountKey(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			sr.s.key = sr.runKey(args, mk, runKeyOpts{network: network, security: security})
		case *instructions.CopyCommand:
			sr.s.key = hashKey(sr.s.key, "copy", sr.resolvePath(c.DestPath), strings.Join(c.SourcePaths, "\x00"))
		case *instructions.WorkdirCommand:
			wd := sr.setWorkdir(c.Path)
			var owner *fscopy.Owner
			if u := sr.s.cfg.Config.User; u != "" {
				uid, gid, _, err := procspec.LookupOwner(nil, u)
				if err != nil {
					t.Fatal(err)
				}
				owner = &fscopy.Owner{UID: uid, GID: gid}
			}
			sr.s.key = workdirKey(sr.s.key, wd, owner)
		default:
			if err := sr.dispatchCommand(context.Background(), cmd, ""); err != nil {
				t.Fatal(err)
			}
			continue
		}
		keys[text] = sr.s.key
	}
	return keys
}

// TestStepKeys is the rule table of the build cache, as BuildKit keys its
// LLB: a step's key has the filesystem it runs on and what it executes. An
// ARG value reaches the RUNs after it (their environment) and the words
// that expand it; ENV, USER and SHELL reach the RUNs after them (USER also
// WORKDIR's owner); metadata-only instructions reach nothing.
func TestStepKeys(t *testing.T) {
	const (
		copyA, copyB, runOne = "COPY a /a", "COPY b /b", "RUN one"
		copyC, copyD         = "COPY c /c/", "COPY d /d/$V/"
		workdir, runTwo      = "WORKDIR /w", "RUN two"
	)
	fromRunOne := []string{runOne, copyC, copyD, workdir, runTwo}
	baseArgs := map[string]string{"GIT_SHA": "aaa"}
	tests := []struct {
		name      string
		old, new  string // replaced in keysDockerfile
		buildArgs map[string]string
		want      []string // the steps whose key changes
	}{
		{name: "nothing", want: nil},
		{name: "ARG GIT_SHA value (used by LABEL)", buildArgs: map[string]string{"GIT_SHA": "bbb"}, want: fromRunOne},
		{name: "LABEL", old: "LABEL rev=$GIT_SHA", new: "LABEL rev=other"},
		{name: "EXPOSE", old: "EXPOSE 80", new: "EXPOSE 81"},
		{name: "CMD", old: `CMD ["x"]`, new: `CMD ["z"]`},
		{name: "ENTRYPOINT", old: `ENTRYPOINT ["y"]`, new: `ENTRYPOINT ["z"]`},
		{name: "STOPSIGNAL", old: "STOPSIGNAL SIGTERM", new: "STOPSIGNAL SIGKILL"},
		{name: "HEALTHCHECK", old: "HEALTHCHECK CMD true", new: "HEALTHCHECK CMD false"},
		{name: "VOLUME", old: "VOLUME /v", new: "VOLUME /v2"},
		{name: "ONBUILD", old: "ONBUILD RUN x", new: "ONBUILD RUN y"},
		{name: "MAINTAINER", old: "MAINTAINER m", new: "MAINTAINER n"},
		{name: "USER (RUN and WORKDIR's owner, not COPY)", old: "USER 0", new: "USER 1000", want: fromRunOne},
		{name: "SHELL (RUN's argv)", old: `SHELL ["/bin/sh", "-c"]`, new: `SHELL ["/bin/bash", "-c"]`, want: fromRunOne},
		{name: "ENV (RUN's env, not COPY)", old: "ENV E=1", new: "ENV E=2", want: fromRunOne},
		{name: "ARG default (RUN env, COPY that expands it)", old: "ARG V=1", new: "ARG V=2", want: []string{copyD, workdir, runTwo}},
		{name: "ARG value from --build-arg", buildArgs: map[string]string{"GIT_SHA": "aaa", "V": "2"}, want: []string{copyD, workdir, runTwo}},
		{name: "WORKDIR", old: "WORKDIR /w", new: "WORKDIR /w2", want: []string{workdir, runTwo}},
		{name: "RUN", old: "RUN one", new: "RUN one ", want: nil}, // the parser trims: same instruction
		{name: "RUN --network", old: "RUN one", new: "RUN --network=none one", want: fromRunOne},
		{name: "RUN --security", old: "RUN one", new: "RUN --security=insecure one", want: fromRunOne},
		{name: "RUN --mount=type=cache", old: "RUN one", new: "RUN --mount=type=cache,target=/c one", want: fromRunOne},
		{name: "COPY destination", old: "COPY b /b", new: "COPY b /b2", want: []string{copyB, runOne, copyC, copyD, workdir, runTwo}},
	}
	before := simulateKeys(t, keysDockerfile, baseArgs)
	if len(before) != 7 {
		t.Fatalf("%d layer steps, want 7: %v", len(before), before)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := keysDockerfile
			if tt.old != "" {
				if !strings.Contains(src, tt.old+"\n") {
					t.Fatalf("%q is not a line of the Dockerfile", tt.old)
				}
				src = strings.Replace(src, tt.old+"\n", tt.new+"\n", 1)
			}
			args := tt.buildArgs
			if args == nil {
				args = baseArgs
			}
			after := simulateKeys(t, src, args)
			var got []string
			for _, step := range []string{copyA, copyB, runOne, copyC, copyD, workdir, runTwo} {
				name := step // the step's text in the changed Dockerfile
				if tt.old == step {
					name = strings.TrimSpace(tt.new)
				}
				if before[step] != after[name] {
					got = append(got, step)
				}
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("steps whose key changed (-got +want):\n%s", diff)
			}
		})
	}
}

// TestFillHistoryTimes checks that metadata entries get the times
// BuildKit's exporter gives them, so that a rebuild from the cache makes
// the same config.
func TestFillHistoryTimes(t *testing.T) {
	t0, t1, t2 := time.Unix(100, 0).UTC(), time.Unix(200, 0).UTC(), time.Unix(300, 0).UTC()
	var zero time.Time
	tests := []struct {
		name string
		base int // entries of the base
		in   []time.Time
		want []time.Time
	}{
		{"metadata before the first new layer gets its time", 1, []time.Time{t0, zero, t1}, []time.Time{t0, t1, t1}},
		{"metadata after a layer gets that layer's time", 1, []time.Time{t0, t1, zero, t2, zero}, []time.Time{t0, t1, t1, t2, t2}},
		{"no new layer: the base's last time", 2, []time.Time{t0, t1, zero, zero}, []time.Time{t0, t1, t1, t1}},
		{"all stamped", 1, []time.Time{t0, t1}, []time.Time{t0, t1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := make([]v1.History, len(tt.in))
			for i, tm := range tt.in {
				h[i].Created = v1.Time{Time: tm}
			}
			fillHistoryTimes(h, tt.base)
			got := make([]time.Time, len(h))
			for i := range h {
				got[i] = h[i].Created.Time
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("times (-got +want):\n%s", diff)
			}
		})
	}
}
