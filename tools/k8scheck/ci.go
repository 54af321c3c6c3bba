package k8scheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ghWorkflow is a GitHub Actions workflow's top level: the keys GitHub
// documents, so that any other one is an error.
type ghWorkflow struct {
	Name        string           `yaml:"name"`
	RunName     string           `yaml:"run-name"`
	On          yaml.Node        `yaml:"on"`
	Env         map[string]any   `yaml:"env"`
	Permissions any              `yaml:"permissions"`
	Concurrency any              `yaml:"concurrency"`
	Defaults    any              `yaml:"defaults"`
	Jobs        map[string]ghJob `yaml:"jobs"`
}

// ghJob is one job of a workflow.
type ghJob struct {
	Name            string         `yaml:"name"`
	RunsOn          any            `yaml:"runs-on"`
	Container       any            `yaml:"container"`
	Services        any            `yaml:"services"`
	Steps           []ghStep       `yaml:"steps"`
	Needs           any            `yaml:"needs"`
	If              string         `yaml:"if"`
	Env             map[string]any `yaml:"env"`
	Strategy        any            `yaml:"strategy"`
	TimeoutMinutes  any            `yaml:"timeout-minutes"`
	Permissions     any            `yaml:"permissions"`
	Outputs         map[string]any `yaml:"outputs"`
	Environment     any            `yaml:"environment"`
	Concurrency     any            `yaml:"concurrency"`
	Defaults        any            `yaml:"defaults"`
	ContinueOnError any            `yaml:"continue-on-error"`
	Uses            string         `yaml:"uses"`
	With            map[string]any `yaml:"with"`
	Secrets         any            `yaml:"secrets"`
}

// ghStep is one step of a job.
type ghStep struct {
	ID               string         `yaml:"id"`
	If               string         `yaml:"if"`
	Name             string         `yaml:"name"`
	Uses             string         `yaml:"uses"`
	Run              string         `yaml:"run"`
	Shell            string         `yaml:"shell"`
	With             map[string]any `yaml:"with"`
	Env              map[string]any `yaml:"env"`
	ContinueOnError  any            `yaml:"continue-on-error"`
	TimeoutMinutes   any            `yaml:"timeout-minutes"`
	WorkingDirectory string         `yaml:"working-directory"`
}

// decodeKnown decodes one YAML document into v, refusing keys v lacks.
func decodeKnown(data []byte, v any) error {
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	if err := d.Decode(v); err != nil {
		return err
	}
	if err := d.Decode(new(any)); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

// CheckGitHubWorkflow returns the problems of a GitHub Actions workflow: a
// key GitHub does not document at the top level, in a job or a step; no
// on or no jobs; a job without runs-on or steps (unless it calls a
// reusable workflow with uses); a step with neither or both of uses and
// run. It is not GitHub's full schema (expressions, events and actions'
// inputs are not checked).
func CheckGitHubWorkflow(data []byte) []error {
	var w ghWorkflow
	if err := decodeKnown(data, &w); err != nil {
		return []error{fmt.Errorf("decoding the workflow: %w", err)}
	}
	var errs []error
	if w.On.Kind == 0 {
		errs = append(errs, errors.New("on: required: the events that start the workflow"))
	}
	if len(w.Jobs) == 0 {
		errs = append(errs, errors.New("jobs: required: at least one job"))
	}
	for _, name := range sortedKeys(w.Jobs) {
		j := w.Jobs[name]
		if j.Uses != "" {
			continue
		}
		if j.RunsOn == nil {
			errs = append(errs, fmt.Errorf("jobs.%s.runs-on: required", name))
		}
		if len(j.Steps) == 0 {
			errs = append(errs, fmt.Errorf("jobs.%s.steps: required: at least one step", name))
		}
		for i, s := range j.Steps {
			if (s.Uses == "") == (s.Run == "") {
				errs = append(errs, fmt.Errorf("jobs.%s.steps[%d]: needs one of uses and run", name, i))
			}
		}
	}
	return errs
}

// glGlobal are GitLab CI's top-level keywords that are not jobs.
var glGlobal = []string{"default", "include", "stages", "variables", "workflow", "spec",
	"image", "services", "cache", "before_script", "after_script"}

// glJob is one GitLab CI job: the keywords GitLab documents.
type glJob struct {
	Script        any `yaml:"script"`
	Image         any `yaml:"image"`
	Services      any `yaml:"services"`
	Stage         any `yaml:"stage"`
	Variables     any `yaml:"variables"`
	Rules         any `yaml:"rules"`
	Only          any `yaml:"only"`
	Except        any `yaml:"except"`
	Tags          any `yaml:"tags"`
	Artifacts     any `yaml:"artifacts"`
	Cache         any `yaml:"cache"`
	BeforeScript  any `yaml:"before_script"`
	AfterScript   any `yaml:"after_script"`
	Needs         any `yaml:"needs"`
	Dependencies  any `yaml:"dependencies"`
	When          any `yaml:"when"`
	AllowFailure  any `yaml:"allow_failure"`
	Timeout       any `yaml:"timeout"`
	Retry         any `yaml:"retry"`
	Environment   any `yaml:"environment"`
	Coverage      any `yaml:"coverage"`
	Interruptible any `yaml:"interruptible"`
	Parallel      any `yaml:"parallel"`
	Release       any `yaml:"release"`
	ResourceGroup any `yaml:"resource_group"`
	Trigger       any `yaml:"trigger"`
	Extends       any `yaml:"extends"`
	Secrets       any `yaml:"secrets"`
	IDTokens      any `yaml:"id_tokens"`
	Pages         any `yaml:"pages"`
	Hooks         any `yaml:"hooks"`
	Inherit       any `yaml:"inherit"`
}

// glImage is a job's image in its long form.
type glImage struct {
	Name       string   `yaml:"name"`
	Entrypoint []string `yaml:"entrypoint"`
	PullPolicy any      `yaml:"pull_policy"`
	Docker     any      `yaml:"docker"`
}

// CheckGitLabCI returns the problems of a .gitlab-ci.yml: no job; a job
// with a keyword GitLab does not document, without script (unless it has
// trigger or extends), or with an image without a name. Hidden jobs
// (".name") are skipped. It is not GitLab's full schema (rules, includes
// and variables are not checked).
func CheckGitLabCI(data []byte) []error {
	var top map[string]yaml.Node
	if err := decodeKnown(data, &top); err != nil {
		return []error{fmt.Errorf("decoding the pipeline: %w", err)}
	}
	var errs []error
	jobs := 0
	for _, name := range sortedKeys(top) {
		if slices.Contains(glGlobal, name) || strings.HasPrefix(name, ".") {
			continue
		}
		jobs++
		if err := checkGitLabJob(top[name]); err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", name, err))
		}
	}
	if jobs == 0 {
		errs = append(errs, errors.New("no job: a pipeline needs at least one"))
	}
	return errs
}

// checkGitLabJob checks one job's node.
func checkGitLabJob(n yaml.Node) error {
	// Node.Decode cannot refuse unknown keys: encode the node again and
	// decode that.
	raw, err := yaml.Marshal(&n)
	if err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	var j glJob
	if err := decodeKnown(raw, &j); err != nil {
		return err
	}
	if j.Script == nil && j.Trigger == nil && j.Extends == nil {
		return errors.New("script: required")
	}
	if m, ok := j.Image.(map[string]any); ok {
		raw, err := yaml.Marshal(m)
		if err != nil {
			return fmt.Errorf("encoding image: %w", err)
		}
		var img glImage
		if err := decodeKnown(raw, &img); err != nil {
			return fmt.Errorf("image: %w", err)
		}
		if img.Name == "" {
			return errors.New("image.name: required")
		}
	}
	return nil
}

// sortedKeys returns m's keys in order, so that errors come in a stable one.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
