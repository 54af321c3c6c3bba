package e2e

import (
	"strings"
	"testing"
)

// TestDockerfileRefusals: what BuildKit's parser accepts and strata does
// not do is refused before anything runs, with the Dockerfile's line and
// what to do, instead of being ignored (issue #14). The table of every
// flag is docs/dockerfile-support.md.
func TestDockerfileRefusals(t *testing.T) {
	s := newStrata(t)
	tests := []struct{ name, df, want string }{
		{"copy exclude", "FROM busybox\nRUN touch /ran\nCOPY --exclude=*.log . /app\n", "Dockerfile:3: COPY --exclude is not supported yet"},
		{"copy parents", "FROM busybox\nCOPY --parents a.txt /app/\n", "Dockerfile:2: COPY --parents"},
		{"copy link", "FROM busybox\nCOPY --link a.txt /a\n", "Dockerfile:2: COPY --link"},
		{"add unpack", "FROM busybox\nADD --unpack=false a.txt /a\n", "Dockerfile:2: ADD --unpack"},
		{"from platform", "FROM --platform=linux/arm64 busybox\nRUN true\n", "Dockerfile:1: FROM --platform=linux/arm64"},
		{"check directive", "# check=nonsense\nFROM busybox\n", "Dockerfile:1: # check=nonsense"},
		{"cache from", "FROM busybox AS a\nFROM busybox\nRUN --mount=type=cache,target=/c,from=a true\n", "Dockerfile:3: RUN --mount=type=cache,from=a"},
		{"cache sharing", "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=private true\n", "Dockerfile:2: RUN --mount=type=cache,sharing=private"},
		{"cache sharing from an ARG", "FROM busybox\nARG S=private\nRUN --mount=type=cache,target=/c,sharing=$S true\n", "Dockerfile:3: RUN --mount=type=cache,sharing=private"},
		{"healthcheck start-interval", "FROM busybox\nHEALTHCHECK --start-interval=1s CMD true\n", "Dockerfile:2: HEALTHCHECK --start-interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := writeContext(t, map[string]string{"Dockerfile": tt.df, "a.txt": "a\n", "b.log": "b\n"})
			r := s.run("build", "--progress=plain", ctx)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want a refusal with %q:\n%s", r.code, tt.want, r.stderr)
			}
			if strings.Contains(r.stderr, "RUN touch /ran") {
				t.Errorf("a step ran before the refusal:\n%s", r.stderr)
			}
		})
	}
}

// TestDockerfileHonouredOptions: options that were ignored and are now
// honoured: tmpfs size=, cache mount uid=, gid=, mode= (set when the cache
// is made), FROM --platform for the host's platform or
// $BUILDPLATFORM, # syntax=docker/dockerfile, # check=skip, and the
// automatic platform ARGs with BuildKit's values.
func TestDockerfileHonouredOptions(t *testing.T) {
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": `# syntax=docker/dockerfile:1
# check=skip=all
FROM --platform=$BUILDPLATFORM busybox AS b
FROM --platform=linux/amd64 busybox
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT
RUN echo "$TARGETPLATFORM|$TARGETOS|$TARGETARCH|$TARGETVARIANT|$BUILDPLATFORM|$BUILDOS|$BUILDARCH|$BUILDVARIANT" > /platform
RUN --mount=type=tmpfs,target=/t,size=2m df -k /t | tail -1 | awk '{print $2}' > /tmpfs-kb
ARG CUID=1000
RUN --mount=type=cache,target=/c,id=owned,uid=$CUID,gid=50,mode=0710 stat -c '%u %g %a' /c > /cache-stat
RUN --mount=type=cache,target=/c2,id=owned stat -c '%u %g %a' /c2 > /cache-stat-again
`})
	s.must("build", "-t", "honoured", ctx)
	tests := []struct{ file, want string }{
		{"/platform", "linux/amd64|linux|amd64||linux/amd64|linux|amd64|"},
		{"/tmpfs-kb", "2048"},
		{"/cache-stat", "1000 50 710"},
		{"/cache-stat-again", "1000 50 710"},
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.file, "/"), func(t *testing.T) {
			if got := strings.TrimSpace(s.must("run", "--rm", "honoured", "cat", tc.file).stdout); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.file, got, tc.want)
			}
		})
	}
}

// TestDockerfileRefusalInOnbuildTrigger: a base image's ONBUILD trigger
// with a flag strata ignores is refused at the child's FROM line.
func TestDockerfileRefusalInOnbuildTrigger(t *testing.T) {
	s := newStrata(t)
	s.must("build", "-t", "parent", writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nONBUILD COPY --link a.txt /a\n"}))
	r := s.run("build", writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN true\nFROM parent\n", "a.txt": "a\n"}))
	if r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:3: ONBUILD trigger") || !strings.Contains(r.stderr, "COPY --link") {
		t.Fatalf("exit %d, want the trigger's COPY --link refused at Dockerfile:3:\n%s", r.code, r.stderr)
	}
}

// TestCacheMountSharingLocked: two stages that run at once and mount one
// cache with sharing=locked take turns; with sharing=shared (the default)
// they overlap, which shows the test can fail.
func TestCacheMountSharingLocked(t *testing.T) {
	df := func(sharing string) string {
		run := "RUN --mount=type=cache,id=turns,target=/c,sharing=" + sharing +
			" sh -c 'if mkdir /c/busy; then echo alone; sleep 3; rmdir /c/busy; else echo overlap; fi' > /r\n"
		return "FROM busybox AS a\n" + run + "FROM busybox AS b\nRUN true\n" + run +
			"FROM busybox\nCOPY --from=a /r /ra\nCOPY --from=b /r /rb\n"
	}
	tests := []struct{ sharing, want string }{
		{"locked", "alone\nalone\n"},
		{"shared", "overlap"},
	}
	for _, tt := range tests {
		t.Run(tt.sharing, func(t *testing.T) {
			s := newStrata(t) // a store each: the sharing mode is not in the RUN's key
			s.must("build", "-t", "turns-"+tt.sharing, writeContext(t, map[string]string{"Dockerfile": df(tt.sharing)}))
			got := s.must("run", "--rm", "turns-"+tt.sharing, "cat", "/ra", "/rb").stdout
			if tt.sharing == "locked" && got != tt.want || tt.sharing == "shared" && !strings.Contains(got, tt.want) {
				t.Errorf("sharing=%s: the RUNs saw %q, want %q", tt.sharing, got, tt.want)
			}
		})
	}
}
