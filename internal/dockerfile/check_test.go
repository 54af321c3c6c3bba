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
		{"run device", "FROM busybox\nRUN --device=/dev/kvm true\n", "Dockerfile:2: RUN --device is not supported yet"},
		{"honoured: cache from", "FROM busybox AS a\nFROM busybox\nRUN --mount=type=cache,target=/c,from=a,source=/x true\n", ""},
		{"honoured: cache source", "FROM busybox\nRUN --mount=type=cache,target=/c,source=/x true\n", ""},
		{"from platform foreign", "FROM --platform=linux/arm64 busybox\n", "Dockerfile:1: FROM --platform=linux/arm64: strata builds for its host's platform (linux/amd64) only"},
		{"from platform arg", "ARG P=linux/s390x\nFROM --platform=$P busybox\n", "Dockerfile:2: FROM --platform=linux/s390x"},
		{"syntax other frontend", "# syntax=example.com/my/frontend:1\nFROM busybox\n", "Dockerfile:1: # syntax=example.com/my/frontend:1"},
		{"check bad", "# check=nonsense\nFROM busybox\n", "Dockerfile:1: # check=nonsense"},
		{"two refusals", "FROM --platform=linux/arm64 busybox\nRUN true\nRUN --device=x true\n", "Dockerfile:3: RUN --device"},

		{"honoured: from platform host", "FROM --platform=linux/amd64 busybox\n", ""},
		{"honoured: from platform build", "FROM --platform=$BUILDPLATFORM busybox\nFROM --platform=${TARGETPLATFORM} busybox\n", ""},
		{"honoured: syntax dockerfile", "# syntax=docker/dockerfile:1.7\nFROM busybox\n", ""},
		{"honoured: syntax labs", "# syntax=docker.io/docker/dockerfile:1.7-labs\nFROM busybox\n", ""},
		{"honoured: syntax 1 pinned", "# syntax=docker/dockerfile:1@sha256:ac85f380a63b13dfcefa89046420e1781752bab202122f8f50032edf31be0021\nFROM busybox\n", ""},
		{"honoured: syntax upstream master", "# syntax=docker/dockerfile-upstream\nFROM busybox\n", ""},
		{"syntax 0.x", "# syntax=docker/dockerfile:0.9\nFROM busybox\n", "Dockerfile:1: # syntax=docker/dockerfile:0.9"},
		{"syntax 2", "# syntax=docker/dockerfile:2\nFROM busybox\n", "Dockerfile:1: # syntax=docker/dockerfile:2"},
		{"honoured: check skip", "# check=skip=all\nFROM busybox\n", ""},
		{"honoured: check error", "# check=skip=StageNameCasing;error=true\nFROM busybox\n", ""},
		{"honoured: cache uid gid mode", "FROM busybox\nRUN --mount=type=cache,target=/c,uid=1000,gid=5,mode=0700 true\n", ""},
		{"honoured: cache sharing private", "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=private true\n", ""},
		{"honoured: cache sharing locked", "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=locked true\n", ""},
		{"honoured: cache sharing shared", "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=shared,id=x true\n", ""},
		{"honoured: run flags", "FROM busybox\nRUN --network=none --security=sandbox --mount=type=tmpfs,target=/t,size=1m --mount=type=secret,id=s,env=S,required=true,mode=0444,uid=1,gid=1 --mount=type=bind,source=.,target=/c,rw true\n", ""},
		{"honoured: copy flags", "FROM busybox AS a\nFROM busybox\nCOPY --from=a --chown=1:1 --chmod=0644 x /y\nADD --chown=1 --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 https://example.com/x /x\n", ""},
		{"honoured: copy 1.x flags", "FROM busybox\nCOPY --link --parents --exclude=*.log --exclude=tmp --chmod=u+x,go=rX a/./b /app/\nADD --link --exclude=x --unpack=true --chmod=a=r a.tar /a\nADD --unpack=false a.tar /b\n", ""},
		{"honoured: add git", "FROM busybox\nADD --keep-git-dir=true --checksum=0123456 https://example.com/r.git#main:sub /r\n", ""},
		{"honoured: run ssh", "FROM busybox\nRUN --mount=type=ssh --mount=type=ssh,id=deploy,target=/s,required=true,mode=0660,uid=1,gid=2 true\n", ""},
		{"honoured: healthcheck start-interval", "FROM busybox\nHEALTHCHECK --start-interval=2s CMD true\n", ""},
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
	df, err := Parse("Dockerfile", []byte("FROM busybox AS unused\nRUN --device=/dev/kvm true\nFROM busybox\nRUN true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(df, CheckOptions{Platform: "linux/amd64", Stages: []int{1}}); err != nil {
		t.Errorf("checking stage 1 only: %v", err)
	}
	if err := Check(df, CheckOptions{Platform: "linux/amd64"}); err == nil {
		t.Error("checking every stage: no refusal of RUN --device")
	}
}

// TestSyntaxWarning: a # syntax= naming docker/dockerfile 1.x is accepted
// with a warning that strata's own frontend is used.
func TestSyntaxWarning(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"# syntax=docker/dockerfile:1\nFROM busybox\n", "Dockerfile:1: # syntax=docker/dockerfile:1: strata's built-in frontend"},
		{"FROM busybox\n", ""},
	} {
		t.Run(tc.src, func(t *testing.T) {
			df, err := Parse("Dockerfile", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(df.Warnings, "\n")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("warnings %q, want %q", got, tc.want)
			}
		})
	}
}
