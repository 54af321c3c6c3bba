package conformance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// caseSpec is one case directory and what its case.env says.
type caseSpec struct {
	name, dir string

	buildArgs, parentBuildArgs []string // already split as bash splits them
	target, dockerfile         string
	parent, parentTag          string
	volatile, exclude          *regexp.Regexp
	extraTags                  []string
	expectFail                 bool
	bases                      []string
	rootlessSkip               string // why a user namespace cannot run the case
	golden                     bool   // compared with expect.jsonl/expect-config.txt, not docker
	input                      string // how the context and Dockerfile are given (buildInput)
}

// caseEnvVarsList are the variables a case.env may set; any other is
// refused so that a misspelt one is never silently ignored.
const caseEnvVarsList = "BUILD_ARGS TARGET DOCKERFILE PARENT PARENT_TAG PARENT_BUILD_ARGS VOLATILE EXCLUDE EXTRA_TAGS EXPECT_FAIL BASES DESCRIPTION ROOTLESS_SKIP GOLDEN INPUT"

// caseEnvScript sources case.env in bash and prints, NUL-separated, the new
// variables it set ("?NAME"), the known ones ("NAME=value") and the words of
// the two build-argument lists ("BUILD_ARGS[]=word"), split by bash itself.
const caseEnvScript = `
before=$(compgen -v)
. "$1" >/dev/null || exit 3
for v in $(compgen -v); do
  case " $before " in *[[:space:]]$v[[:space:]]*) continue ;; esac
  case $v in before|_|BASH*|PIPESTATUS|FUNCNAME|LINENO|OPTIND|OPTARG|OPTERR|RANDOM|SRANDOM|SECONDS|EPOCH*|COLUMNS|LINES) continue ;;
  esac
  case " ` + caseEnvVarsList + ` " in *" $v "*) continue ;; esac
  printf '?%s\0' "$v"
done
for v in ` + caseEnvVarsList + `; do
  printf '%s=%s\0' "$v" "${!v-}"
done
eval "ba=(${BUILD_ARGS-})" || exit 4
for w in "${ba[@]}"; do printf 'BUILD_ARGS[]=%s\0' "$w"; done
eval "pa=(${PARENT_BUILD_ARGS-})" || exit 5
for w in "${pa[@]}"; do printf 'PARENT_BUILD_ARGS[]=%s\0' "$w"; done
`

// goldenFiles are the golden expectation files of a case; none is part of
// the build context.
var goldenFiles = []string{"expect.jsonl", "expect-config.txt", "expect-parent.jsonl", "expect-parent-config.txt"}

// loadCase reads the case directory dir.
func loadCase(ctx context.Context, dir string) (*caseSpec, error) {
	c := &caseSpec{name: filepath.Base(dir), dir: dir, dockerfile: "Dockerfile"}
	vars := map[string]string{}
	envFile := filepath.Join(dir, "case.env")
	if _, err := os.Stat(envFile); err == nil {
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(ctx, "bash", "--norc", "--noprofile", "-c", caseEnvScript, "case.env", envFile)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &errb
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s: sourcing with bash (BUILD_ARGS and PARENT_BUILD_ARGS must be bash words): %w: %s", envFile, err, strings.TrimSpace(errb.String()))
		}
		var unknown []string
		for _, kv := range strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00") {
			switch {
			case strings.HasPrefix(kv, "?"):
				unknown = append(unknown, kv[1:])
			case strings.HasPrefix(kv, "BUILD_ARGS[]="):
				c.buildArgs = append(c.buildArgs, strings.TrimPrefix(kv, "BUILD_ARGS[]="))
			case strings.HasPrefix(kv, "PARENT_BUILD_ARGS[]="):
				c.parentBuildArgs = append(c.parentBuildArgs, strings.TrimPrefix(kv, "PARENT_BUILD_ARGS[]="))
			default:
				k, v, _ := strings.Cut(kv, "=")
				vars[k] = v
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, fmt.Errorf("%s: unknown variable %s: a case.env sets only %s", envFile, strings.Join(unknown, ", "), caseEnvVarsList)
		}
	}
	if err := c.apply(vars); err != nil {
		return nil, fmt.Errorf("%s: %w", envFile, err)
	}
	if c.bases == nil {
		bases, err := basesNamedIn(dir)
		if err != nil {
			return nil, err
		}
		c.bases = bases
	}
	return c, nil
}

// apply sets the case's fields from the case.env variables.
func (c *caseSpec) apply(vars map[string]string) error {
	c.target, c.parent, c.parentTag = vars["TARGET"], vars["PARENT"], vars["PARENT_TAG"]
	if v := vars["DOCKERFILE"]; v != "" {
		c.dockerfile = v
	}
	if (c.parent == "") != (c.parentTag == "") {
		return fmt.Errorf("PARENT and PARENT_TAG go together (PARENT=%q PARENT_TAG=%q)", c.parent, c.parentTag)
	}
	if len(c.parentBuildArgs) > 0 && c.parent == "" {
		return fmt.Errorf("PARENT_BUILD_ARGS without PARENT")
	}
	for _, re := range []struct {
		name string
		dst  **regexp.Regexp
	}{{"VOLATILE", &c.volatile}, {"EXCLUDE", &c.exclude}} {
		if vars[re.name] == "" {
			continue
		}
		r, err := regexp.Compile(vars[re.name])
		if err != nil {
			return fmt.Errorf("%s is not a regular expression: %w", re.name, err)
		}
		*re.dst = r
	}
	c.extraTags = strings.Fields(vars["EXTRA_TAGS"])
	for _, flag := range []struct {
		name string
		dst  *bool
	}{{"EXPECT_FAIL", &c.expectFail}, {"GOLDEN", &c.golden}} {
		switch vars[flag.name] {
		case "", "0":
		case "1":
			*flag.dst = true
		default:
			return fmt.Errorf("%s=%q: use 1 or 0", flag.name, vars[flag.name])
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, "expect.jsonl")); err == nil {
		c.golden = true
	}
	c.rootlessSkip = vars["ROOTLESS_SKIP"]
	switch c.input = vars["INPUT"]; c.input {
	case inputDir, inputTar, inputTarGz, inputDockerfile, inputDockerfileOnly, inputGit:
	default:
		return fmt.Errorf("INPUT=%q: use tar, tar.gz, dockerfile, dockerfile-only or git", c.input)
	}
	if b := strings.Fields(vars["BASES"]); len(b) > 0 {
		for _, base := range b {
			if _, ok := baseImages[base]; !ok {
				return fmt.Errorf("BASES: unknown base %q (known: busybox, debian)", base)
			}
		}
		c.bases = b
	}
	return nil
}

// basesNamedIn returns the base images whose names appear in the case's
// files.
func basesNamedIn(dir string) ([]string, error) {
	found := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for name, base := range baseImages {
			if bytes.Contains(b, []byte(base.tag)) {
				found[name] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking for base image names in %s: %w", dir, err)
	}
	var out []string
	for name := range found {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}
