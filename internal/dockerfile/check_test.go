package dockerfile

import (
	"strings"
	"testing"
)

// TestCheckRefusals: every flag, mount option and directive strata does not
// honour is refused with the Dockerfile's line; what it honours passes.
func TestCheckRefusals(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // "" for no error, else a substring with file:line
	}{
		{"copy exclude", "FROM busybox\nCOPY --exclude=*.log . /app\n", "Dockerfile:2: COPY --exclude is not supported yet"},
		{"copy parents", "FROM busybox\nCOPY --parents a/b /app/\n", "Dockerfile:2: COPY --parents is not supported yet"},
		{"copy link", "FROM busybox\nRUN true\nCOPY --link a /a\n", "Dockerfile:3: COPY --link is not supported yet"},
		{"add exclude", "FROM busybox\nADD --exclude=x . /app\n", "Dockerfile:2: ADD --exclude"},
		{"add link", "FROM busybox\nADD --link a /a\n", "Dockerfile:2: ADD --link"},
		{"add unpack", "FROM busybox\nADD --unpack=true a.tar /a\n", "Dockerfile:2: ADD --unpack"},
		{"add keep-git-dir", "FROM busybox\nADD --keep-git-dir=true https://example.com/r.git /r\n", "Dockerfile:2: ADD --keep-git-dir"},
		{"healthcheck start-interval", "FROM busybox\nHEALTHCHECK --start-interval=2s CMD true\n", "Dockerfile:2: HEALTHCHECK --start-interval"},
		{"run device", "FROM busybox\nRUN --device=/dev/kvm true\n", "Dockerfile:2: RUN --device is not supported yet"},
		{"run ssh", "FROM busybox\nRUN --mount=type=ssh true\n", "Dockerfile:2: RUN --mount=type=ssh"},
		{"cache sharing private", "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=private true\n", "cache,sharing=private"},
		{"cache from", "FROM busybox AS a\nFROM busybox\nRUN --mount=type=cache,target=/c,from=a true\n", "Dockerfile:3: RUN --mount=type=cache,from=a"},
		{"cache source", "FROM busybox\nRUN --mount=type=cache,target=/c,source=/x true\n", "cache,source=/x"},
		{"from platform foreign", "FROM --platform=linux/arm64 busybox\n", "Dockerfile:1: FROM --platform=linux/arm64: strata builds for its host's platform (linux/amd64) only"},
		{"from platform arg", "ARG P=linux/s390x\nFROM --platform=$P busybox\n", "Dockerfile:2: FROM --platform=linux/s390x"},
		{"syntax other frontend", "# syntax=example.com/my/frontend:1\nFROM busybox\n", "Dockerfile:1: # syntax=example.com/my/frontend:1"},
		{"check bad", "# check=nonsense\nFROM busybox\n", "Dockerfile:1: # check=nonsense"},
		{"two refusals", "FROM busybox\nCOPY --link a /a\nRUN --device=x true\n", "Dockerfile:3: RUN --device"},

		{"honoured: from platform host", "FROM --platform=linux/amd64 busybox\n", ""},
		{"honoured: from platform build", "FROM --platform=$BUILDPLATFORM busybox\nFROM --platform=${TARGETPLATFORM} busybox\n", ""},
		{"honoured: syntax dockerfile", "# syntax=docker/dockerfile:1.7\nFROM busybox\n", ""},
		{"honoured: check skip", "# check=skip=all\nFROM busybox\n", ""},
		{"honoured: check error", "# check=skip=StageNameCasing;error=true\nFROM busybox\n", ""},
		{"honoured: cache uid gid mode", "FROM busybox\nRUN --mount=type=cache,target=/c,uid=1000,gid=5,mode=0700 true\n", ""},
		{"honoured: cache sharing locked", "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=locked true\n", ""},
		{"honoured: cache sharing shared", "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=shared,id=x true\n", ""},
		{"honoured: run flags", "FROM busybox\nRUN --network=none --security=sandbox --mount=type=tmpfs,target=/t,size=1m --mount=type=secret,id=s,env=S,required=true,mode=0444,uid=1,gid=1 --mount=type=bind,source=.,target=/c,rw true\n", ""},
		{"honoured: copy flags", "FROM busybox AS a\nFROM busybox\nCOPY --from=a --chown=1:1 --chmod=0644 x /y\nADD --chown=1 --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 https://example.com/x /x\n", ""},
		{"honoured: healthcheck", "FROM busybox\nHEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=2 CMD true\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := Parse("Dockerfile", []byte(tt.src))
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}
			env := NewEnv([]string{"BUILDPLATFORM=linux/amd64", "TARGETPLATFORM=linux/amd64"})
			for _, a := range df.MetaArgs {
				for _, kv := range a.Args {
					if kv.Value != nil {
						env.Set(kv.Key, *kv.Value)
					}
				}
			}
			err = Check(df, CheckOptions{Platform: "linux/amd64", FromEnv: env})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// TestCheckStages: only the stages the build runs are checked.
func TestCheckStages(t *testing.T) {
	df, err := Parse("Dockerfile", []byte("FROM busybox AS unused\nCOPY --link a /a\nFROM busybox\nRUN true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(df, CheckOptions{Platform: "linux/amd64", Stages: []int{1}}); err != nil {
		t.Errorf("checking stage 1 only: %v", err)
	}
	if err := Check(df, CheckOptions{Platform: "linux/amd64"}); err == nil {
		t.Error("checking every stage: no refusal of COPY --link")
	}
}
