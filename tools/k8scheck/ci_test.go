package k8scheck

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestCIExamples checks docs/ci's GitHub Actions workflow and GitLab CI
// job, then broken copies of each, which must fail naming the problem.
func TestCIExamples(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		check      func([]byte) []error
		old, new   string // the breakage; both empty for the file as it is
		want       string // in the error, or empty for none
	}{
		{"github", "github-actions.yml", CheckGitHubWorkflow, "", "", ""},
		{"github misspelled runs-on", "github-actions.yml", CheckGitHubWorkflow, "    runs-on: ubuntu-latest\n", "    runs_on: ubuntu-latest\n", "field runs_on not found in type k8scheck.ghJob"},
		{"github without runs-on", "github-actions.yml", CheckGitHubWorkflow, "    runs-on: ubuntu-latest\n", "", "jobs.build.runs-on: required"},
		{"github without on", "github-actions.yml", CheckGitHubWorkflow, "on: [push]\n", "", "on: required"},
		{"github step with neither", "github-actions.yml", CheckGitHubWorkflow, "      - uses: actions/checkout@v4\n", "      - name: checkout\n", "jobs.build.steps[0]: needs one of uses and run"},
		{"github not YAML", "github-actions.yml", CheckGitHubWorkflow, "jobs:\n", "jobs: [\n", "decoding the workflow"},
		{"gitlab", "gitlab-ci.yml", CheckGitLabCI, "", "", ""},
		{"gitlab misspelled script", "gitlab-ci.yml", CheckGitLabCI, "  script:\n", "  scripts:\n", "field scripts not found in type k8scheck.glJob"},
		{"gitlab without script", "gitlab-ci.yml", CheckGitLabCI, "  script:\n", "  before_script:\n", "job build-image: script: required"},
		{"gitlab image without name", "gitlab-ci.yml", CheckGitLabCI, "    name: registry.example.com/tools/strata:dev\n", "", "job build-image: image.name: required"},
		{"gitlab image unknown key", "gitlab-ci.yml", CheckGitLabCI, "    entrypoint: [\"\"]\n", "    entry_point: [\"\"]\n", "field entry_point not found"},
		{"gitlab no job", "gitlab-ci.yml", CheckGitLabCI, "build-image:\n", ".build-image:\n", "no job"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile("../../docs/ci/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			if tc.old != "" {
				broken := strings.Replace(text, tc.old, tc.new, 1)
				if broken == text {
					t.Fatalf("docs/ci/%s no longer holds %q: update the test", tc.file, tc.old)
				}
				text = broken
			}
			err = errors.Join(tc.check([]byte(text))...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.want != "" && err == nil:
				t.Fatalf("got no error, want one with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("got error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
