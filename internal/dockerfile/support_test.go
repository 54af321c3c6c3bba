package dockerfile

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// support says, for every field of BuildKit's instruction types, every RUN
// flag and every parser directive, whether strata honours it (and which test
// shows it) or refuses it (and with what message). docs/dockerfile-support.md
// is the same table for users; TestSupportTableCoversBuildKit keeps both
// complete when BuildKit adds a field.
var support = map[string]string{
	// FROM
	"Stage.Name":       "honoured: TestMultiCopyFromIndexAndName",
	"Stage.Commands":   "honoured: every instruction of the stage runs",
	"Stage.OrigCmd":    "honoured: text for messages only",
	"Stage.BaseName":   "honoured: TestBuildArgs, conformance arg-from",
	"Stage.Platform":   "honoured when the host's platform or $BUILDPLATFORM (TestDockerfileHonouredOptions); refused otherwise (TestDockerfileRefusals)",
	"Stage.DocComment": "honoured: documentation only, no effect on a build",
	"Stage.SourceCode": "honoured: text for messages only",
	"Stage.Location":   "honoured: the file:line of messages",
	"Stage.Comments":   "honoured: documentation only, no effect on a build",
	// RUN
	"RunCommand.CmdLine":      "honoured: conformance run-forms",
	"RunCommand.Files":        "honoured: TestBuildHeredocs",
	"RunCommand.PrependShell": "honoured: conformance run-forms, shell-instruction",
	"RunCommand.FlagsUsed":    "honoured: each flag is listed under RUN --",
	"RUN --mount":             "honoured for bind, cache, tmpfs, secret (see Mount.*); type=ssh refused",
	"RUN --network":           "honoured: TestRunNetworkPerStep, TestRunNetwork (host needs --allow network.host in a --network none build)",
	"RUN --security":          "honoured: TestSecurityBattery, TestSecurityInsecureNeedsAllow",
	"RUN --device":            "refused: TestRunDeviceRefused",
	// RUN --mount options
	"Mount.Type":         "honoured: bind, cache, tmpfs, secret; refused: ssh (TestCheckRefusals)",
	"Mount.From":         "honoured for bind (TestRunMountBindFromSource); refused for cache (TestCheckRefusals)",
	"Mount.Source":       "honoured for bind (TestRunMountBindContext, TestRunMountBindFromSource) and secret; refused for cache",
	"Mount.Target":       "honoured: TestRunMountBindContext, TestMultiRunMountBindFrom",
	"Mount.ReadOnly":     "honoured: TestRunMountBindContext (ro and rw)",
	"Mount.SizeLimit":    "honoured: TestDockerfileHonouredOptions (tmpfs size=)",
	"Mount.CacheID":      "honoured: cache id=, secret id= (TestSecretMount)",
	"Mount.CacheSharing": "honoured: sharing=shared, locked (TestCacheMountSharingLocked); refused: private (TestDockerfileRefusals)",
	"Mount.Required":     "honoured: TestSecretRequiredMissing",
	"Mount.Env":          "honoured: TestSecretMount",
	"Mount.Mode":         "honoured for secret (TestSecretMount) and cache (TestDockerfileHonouredOptions)",
	"Mount.UID":          "honoured for secret (TestSecretMount) and cache (TestDockerfileHonouredOptions)",
	"Mount.GID":          "honoured for secret (TestSecretMount) and cache (TestDockerfileHonouredOptions)",
	"Device.Name":        "refused: TestRunDeviceRefused",
	"Device.Required":    "refused: TestRunDeviceRefused",
	// COPY and ADD
	"CopyCommand.DestPath":        "honoured: conformance copy-basic",
	"CopyCommand.SourcePaths":     "honoured: conformance copy-basic, dockerignore",
	"CopyCommand.SourceContents":  "honoured: TestBuildHeredocs",
	"CopyCommand.From":            "honoured: TestMultiCopyFromIndexAndName, conformance copy-from-image",
	"CopyCommand.Chown":           "honoured: conformance copy-chown-chmod",
	"CopyCommand.Chmod":           "honoured: conformance copy-chown-chmod, TestCacheChmodInvalidatesCopy",
	"CopyCommand.Link":            "refused: TestDockerfileRefusals",
	"CopyCommand.ExcludePatterns": "refused: TestDockerfileRefusals",
	"CopyCommand.Parents":         "refused: TestDockerfileRefusals",
	"AddCommand.DestPath":         "honoured: TestBuildAdd",
	"AddCommand.SourcePaths":      "honoured: TestBuildAdd, conformance add-archive",
	"AddCommand.SourceContents":   "honoured: TestBuildHeredocs",
	"AddCommand.Chown":            "honoured: conformance copy-chown-chmod",
	"AddCommand.Chmod":            "honoured: conformance copy-chown-chmod",
	"AddCommand.Link":             "refused: TestCheckRefusals",
	"AddCommand.ExcludePatterns":  "refused: TestCheckRefusals",
	"AddCommand.KeepGitDir":       "refused: TestCheckRefusals",
	"AddCommand.Checksum":         "honoured: TestBuildAdd",
	"AddCommand.Unpack":           "refused: TestDockerfileRefusals",
	// Config instructions
	"EnvCommand.Env":                          "honoured: conformance env-expansion",
	"MaintainerCommand.Maintainer":            "honoured: conformance metadata",
	"LabelCommand.Labels":                     "honoured: conformance metadata, TestBuildIidfileLabelsTags",
	"OnbuildCommand.Expression":               "honoured: TestBuildOnbuildTriggers, conformance onbuild",
	"WorkdirCommand.Path":                     "honoured: conformance workdir",
	"CmdCommand.CmdLine":                      "honoured: conformance cmd-entrypoint-forms",
	"CmdCommand.Files":                        "honoured: always empty (BuildKit reads heredocs for RUN, COPY and ADD only)",
	"CmdCommand.PrependShell":                 "honoured: conformance cmd-entrypoint-forms",
	"EntrypointCommand.CmdLine":               "honoured: conformance entrypoint-cmd",
	"EntrypointCommand.Files":                 "honoured: always empty (BuildKit reads heredocs for RUN, COPY and ADD only)",
	"EntrypointCommand.PrependShell":          "honoured: conformance entrypoint-cmd",
	"HealthCheckCommand.Health.Test":          "honoured: conformance metadata",
	"HealthCheckCommand.Health.Interval":      "honoured: conformance metadata",
	"HealthCheckCommand.Health.Timeout":       "honoured: conformance metadata",
	"HealthCheckCommand.Health.StartPeriod":   "honoured: conformance metadata",
	"HealthCheckCommand.Health.StartInterval": "refused: TestDockerfileRefusals",
	"HealthCheckCommand.Health.Retries":       "honoured: conformance metadata",
	"ExposeCommand.Ports":                     "honoured: conformance metadata",
	"UserCommand.User":                        "honoured: conformance user, TestBuildUserOwnsItsFiles",
	"VolumeCommand.Volumes":                   "honoured: conformance metadata",
	"StopSignalCommand.Signal":                "honoured: conformance metadata",
	"ArgCommand.Args":                         "honoured: TestBuildArgs, TestDockerfileHonouredOptions (platform ARGs)",
	"ShellCommand.Shell":                      "honoured: conformance shell-instruction",
	// Parser directives
	"# syntax": "honoured for docker/dockerfile (strata's own parser is that syntax); refused for other frontends (TestCheckRefusals)",
	"# escape": "honoured: conformance escape-directive",
	"# check":  "honoured: skip= and error=true by strata check, build --check and, with error=true, every build (TestCheckDirectiveError, TestBuildCheckErrorTrue); refused: a directive BuildKit's parser rejects (TestDockerfileRefusals)",
}

// supportTypes are the types whose exported fields the table must cover.
var supportTypes = []any{
	instructions.Stage{}, instructions.RunCommand{}, instructions.Mount{}, instructions.Device{},
	instructions.CopyCommand{}, instructions.AddCommand{}, instructions.EnvCommand{},
	instructions.MaintainerCommand{}, instructions.LabelCommand{}, instructions.OnbuildCommand{},
	instructions.WorkdirCommand{}, instructions.CmdCommand{}, instructions.EntrypointCommand{},
	instructions.HealthCheckCommand{}, instructions.ExposeCommand{}, instructions.UserCommand{},
	instructions.VolumeCommand{}, instructions.StopSignalCommand{}, instructions.ArgCommand{},
	instructions.ShellCommand{},
}

// fieldsOf returns "Type.Field" for every exported field of t, with the
// fields of embedded structs as the type's own and the fields of a
// pointed-to struct from another package (the healthcheck config) below
// the field's name.
func fieldsOf(prefix string, t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		ft := f.Type
		if f.Anonymous && ft.Kind() == reflect.Struct {
			out = append(out, fieldsOf(prefix, ft)...)
			continue
		}
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct && ft.Elem() != reflect.TypeOf(time.Time{}) {
			out = append(out, fieldsOf(prefix+f.Name+".", ft.Elem())...)
			continue
		}
		out = append(out, prefix+f.Name)
	}
	return out
}

// TestSupportTableCoversBuildKit walks BuildKit's instruction types by
// reflection: a field that is neither honoured nor refused in the table
// (a BuildKit upgrade that adds one) fails, and so does a table entry that
// names no field any more, or one docs/dockerfile-support.md lacks.
func TestSupportTableCoversBuildKit(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range supportTypes {
		rt := reflect.TypeOf(v)
		for _, f := range fieldsOf(rt.Name()+".", rt) {
			seen[f] = true
			got, ok := support[f]
			if !ok {
				t.Errorf("%s is in BuildKit's instructions but neither honoured nor refused: implement it with a test, or refuse it in check.go, and add it to the table and docs/dockerfile-support.md", f)
				continue
			}
			if !strings.HasPrefix(got, "honoured") && !strings.HasPrefix(got, "refused") {
				t.Errorf("%s: %q says neither honoured nor refused", f, got)
			}
		}
	}
	_, self, _, _ := runtime.Caller(0)
	doc, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "..", "docs", "dockerfile-support.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(support))
	for k := range support {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !seen[k] && !strings.HasPrefix(k, "RUN --") && !strings.HasPrefix(k, "# ") {
			t.Errorf("the table names %s, which BuildKit's instructions no longer have", k)
		}
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/dockerfile-support.md lacks a row for `%s`", k)
		}
	}
}

// TestSupportRunFlags: the RUN flags in the table are the ones BuildKit's
// parser knows (an unknown one is a parse error), so a new flag shows up.
func TestSupportRunFlags(t *testing.T) {
	for _, flag := range []string{"--mount=type=tmpfs,target=/t", "--network=none", "--security=sandbox", "--device=x"} {
		name, _, _ := strings.Cut(flag, "=")
		if _, ok := support["RUN "+name]; !ok {
			t.Errorf("RUN %s is not in the table", name)
		}
		if _, err := Parse("Dockerfile", []byte("FROM busybox\nRUN "+flag+" true\n")); err != nil {
			t.Errorf("RUN %s: %v", flag, err)
		}
	}
	if _, err := Parse("Dockerfile", []byte("FROM busybox\nRUN --nosuchflag=1 true\n")); err == nil {
		t.Error("an unknown RUN flag parsed")
	}
}
