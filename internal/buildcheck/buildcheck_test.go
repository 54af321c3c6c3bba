package buildcheck

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-build/strata/internal/analyze"
)

// rulesOf returns "line:Rule" for each violation.
func rulesOf(res *Result) []string {
	out := []string{}
	for _, v := range res.Violations {
		out = append(out, strconv.Itoa(v.Line)+":"+v.Rule)
	}
	return out
}

// TestBuildKitRules: Dockerfiles from the examples of BuildKit's rule
// documentation (frontend/dockerfile/docs/rules/*.md) hit the rule the
// documentation says they break, under BuildKit's name and line.
func TestBuildKitRules(t *testing.T) {
	for _, tc := range []struct {
		rule, src string
		want      []string
	}{
		{"StageNameCasing", "FROM alpine AS BuilderBase\n", []string{"1:StageNameCasing"}},
		{"FromAsCasing", "FROM debian:latest as builder\n", []string{"1:FromAsCasing"}},
		{"NoEmptyContinuation", "FROM alpine\nEXPOSE \\\n\n80\n", []string{"4:NoEmptyContinuation"}},
		{"ConsistentInstructionCasing", "FROM alpine\nRUN echo hello\nrun echo world\nCMD [\"true\"]\n", []string{"3:ConsistentInstructionCasing"}},
		{"DuplicateStageName", "FROM debian:latest AS builder\nRUN true\nFROM golang:latest AS builder\n", []string{"3:DuplicateStageName"}},
		{"ReservedStageName", "FROM alpine AS scratch\n", []string{"1:ReservedStageName"}},
		{"JSONArgsRecommended", "FROM alpine\nENTRYPOINT my-program start\n", []string{"2:JSONArgsRecommended"}},
		{"MaintainerDeprecated", "FROM alpine\nMAINTAINER moby@example.com\n", []string{"2:MaintainerDeprecated"}},
		{"UndefinedArgInFrom", "FROM node:22${VARIANT} AS jsbuilder\n", []string{"1:UndefinedArgInFrom"}},
		{"WorkdirRelativePath", "FROM alpine\nWORKDIR app\n", []string{"2:WorkdirRelativePath"}},
		{"UndefinedVar", "FROM alpine\nENV PATH=$PAHT:/app/bin\n", []string{"2:UndefinedVar"}},
		{"LegacyKeyValueFormat", "FROM alpine\nENV DEPS curl git make\n", []string{"2:LegacyKeyValueFormat"}},
		{"SecretsUsedInArgOrEnv", "FROM scratch\nARG AWS_SECRET_ACCESS_KEY\n", []string{"2:SecretsUsedInArgOrEnv"}},
		{"MultipleInstructionsDisallowed", "FROM alpine\nCMD [\"a\"]\nCMD [\"b\"]\n", []string{"2:MultipleInstructionsDisallowed"}},
		{"RedundantTargetPlatform", "FROM --platform=$TARGETPLATFORM alpine AS builder\n", []string{"1:RedundantTargetPlatform"}},
		{"clean", "FROM alpine AS builder\nWORKDIR /app\nCMD [\"true\"]\n", []string{}},
		// BuildKit's converter asks the solver's capabilities for every
		// RUN --mount; without them it panicked.
		{"mounts", "FROM scratch AS tools\nFROM scratch\nRUN --mount=type=bind,from=tools,target=/t,rw --mount=type=cache,target=/c --mount=type=tmpfs,target=/x --mount=type=secret,id=s --mount=type=ssh true\n", []string{}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			res, err := Check(context.Background(), "Dockerfile", []byte(tc.src), Options{})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if diff := cmp.Diff(rulesOf(res), tc.want); diff != "" {
				t.Errorf("violations (-got +want):\n%s\n%+v", diff, res.Violations)
			}
		})
	}
}

func TestSizeRules(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		ignore    bool // the context has a .dockerignore
		want      []string
	}{
		{"apt without flags", "FROM debian\nRUN apt-get update && apt-get install -y curl\n",
			false, []string{"2:AptInstallRecommends", "2:AptListsLeft"}},
		{"apt done right", "FROM debian\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n",
			false, []string{}},
		{"apt with a cache mount", "FROM debian\nRUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y --no-install-recommends curl\n",
			false, []string{}},
		{"rm later", "FROM debian\nCOPY src /src\nRUN make -C /src\nRUN rm -rf /src\n",
			false, []string{"4:DeletedLater"}},
		{"rm in the same RUN", "FROM debian\nRUN curl -o /tmp/x.tgz http://x && tar xf /tmp/x.tgz && rm /tmp/x.tgz\n",
			false, []string{}},
		{"chmod after COPY", "FROM debian\nCOPY app /app/\nRUN chmod -R 755 /app\n",
			false, []string{"3:ChmodAfterCopy"}},
		{"chown after COPY", "FROM debian\nCOPY data /data\nRUN chown -R 1000:1000 /data/sub\n",
			false, []string{"3:ChmodAfterCopy"}},
		{"ADD archive then rm", "FROM debian\nADD big.tar.gz /opt/\nRUN rm -rf /opt/big.tar.gz\n",
			false, []string{"3:AddArchiveThenRemove"}},
		{"pip and npm caches", "FROM python\nRUN pip install flask\nRUN npm ci\nRUN pip install --no-cache-dir x && npm ci && npm cache clean --force\n",
			false, []string{"2:PackageCacheLeft", "3:PackageCacheLeft"}},
		{"compiler in the final stage", "FROM debian AS build\nRUN apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*\n" +
			"FROM debian\nRUN apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*\n",
			false, []string{"4:CompilerInFinalStage"}},
		{"COPY . without .dockerignore", "FROM debian\nCOPY . /app\n", false, []string{"2:CopyAllWithoutDockerignore"}},
		{"COPY . with .dockerignore", "FROM debian\nCOPY . /app\n", true, []string{}},
		{"skip a strata rule", "# check=skip=AptListsLeft,JSONArgsRecommended\nFROM debian\nRUN apt-get install -y --no-install-recommends curl\nCMD echo\n",
			false, []string{}},
		{"skip all", "# check=skip=all\nFROM debian\nRUN apt-get install -y curl\nCMD echo\n", false, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.ignore {
				if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(".git\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Check(context.Background(), "Dockerfile", []byte(tc.src), Options{ContextDir: dir})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if diff := cmp.Diff(rulesOf(res), tc.want); diff != "" {
				t.Errorf("violations (-got +want):\n%s\n%+v", diff, res.Violations)
			}
			for _, v := range res.Violations {
				if v.Source == Strata && (v.Fix == "" || v.Message == "") {
					t.Errorf("%s at line %d has no message or fix", v.Rule, v.Line)
				}
			}
		})
	}
}

func TestCheckDirectiveError(t *testing.T) {
	for _, tc := range []struct {
		name, src  string
		wantFailed bool
		wantErr    string
	}{
		{"error=true with a violation", "# check=error=true\nFROM alpine AS Build\n", true, ""},
		{"error=true, clean", "# check=error=true\nFROM alpine\nCMD [\"true\"]\n", false, ""},
		{"error=true, skipped", "# check=skip=StageNameCasing;error=true\nFROM alpine AS Build\n", false, ""},
		{"no directive", "FROM alpine AS Build\n", false, ""},
		{"bad directive", "# check=nonsense\nFROM alpine\n", false, "Dockerfile:1: # check=nonsense"},
		{"bad Dockerfile", "FROM alpine\nCOPY\n", false, "Dockerfile:2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Check(context.Background(), "Dockerfile", []byte(tc.src), Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Check error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if res.Failed != tc.wantFailed {
				t.Errorf("Failed = %v, want %v (violations %+v)", res.Failed, tc.wantFailed, res.Violations)
			}
		})
	}
}

func TestPredict(t *testing.T) {
	res, err := Check(context.Background(), "Dockerfile", []byte("FROM debian\nCOPY src /src\nRUN make /opt/cc\nRUN rm -rf /src /opt/cc\nCMD [\"x\"]\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep := &analyze.Report{Findings: []analyze.Finding{
		{Kind: analyze.DeletedLater, Line: 4, Bytes: 48_000_021, Sources: []analyze.Source{{Line: 2, Bytes: 21}, {Line: 3, Bytes: 48_000_000}}},
		{Kind: analyze.BuildTools, Line: 4, Bytes: 1},
	}}
	Predict(res, rep)
	var got []int64
	for _, v := range res.Violations {
		got = append(got, v.Bytes)
	}
	if diff := cmp.Diff(got, []int64{21, 48_000_000}); diff != "" || !strings.Contains(res.Violations[1].Message, "about 48MB") {
		t.Errorf("predicted bytes (-got +want):\n%s\n%+v", diff, res.Violations)
	}
}
