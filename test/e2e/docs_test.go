package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCompletion checks the shell completions: the bash script loads and
// registers itself, zsh and fish scripts are produced, and the completion
// protocol they call (strata __complete) answers with commands and flags.
func TestCompletion(t *testing.T) {
	out, err := exec.Command("bash", "-c", `source <("$0" completion bash) && complete -p strata`, env.bin).CombinedOutput()
	if err != nil {
		t.Fatalf("loading the bash completion: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "complete -o default -F __start_strata strata"; got != want {
		t.Errorf("complete -p strata: got %q, want %q", got, want)
	}
	for _, tc := range []struct{ shell, want string }{
		{"zsh", "#compdef strata"},
		{"fish", "complete -c strata"},
		{"powershell", "Register-ArgumentCompleter"},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			out, err := exec.Command(env.bin, "completion", tc.shell).CombinedOutput()
			if err != nil {
				t.Fatalf("strata completion %s: %v\n%s", tc.shell, err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("strata completion %s: no %q in the script", tc.shell, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "bu"}, "build\t"},
		{[]string{"__complete", "build", "--ta"}, "--target\t"},
		{[]string{"__complete", "completion", ""}, "bash\t"},
	} {
		out, err := exec.Command(env.bin, tc.args...).CombinedOutput()
		if err != nil {
			t.Fatalf("strata %s: %v\n%s", strings.Join(tc.args, " "), err, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("strata %s: got %q, want a line starting %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
}

// TestHelpHasExamples runs --help for every command strata lists, as a user
// would, and checks that each shows an example.
func TestHelpHasExamples(t *testing.T) {
	out, err := exec.Command(env.bin, "__complete", "").Output() // stderr has a debug line
	if err != nil {
		t.Fatalf("listing the commands: %v\n%s", err, out)
	}
	var cmds [][]string
	for _, l := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(l, "\t")
		if name == "" || strings.HasPrefix(name, ":") {
			continue
		}
		cmds = append(cmds, []string{name})
	}
	cmds = append(cmds, nil, []string{"completion", "bash"})
	if len(cmds) < 15 {
		t.Fatalf("strata lists %d commands: %q", len(cmds), out)
	}
	for _, c := range cmds {
		args := append(append([]string{}, c...), "--help")
		out, err := exec.Command(env.bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("strata %s: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		if !strings.Contains(string(out), "\nExamples:\n  ") {
			t.Errorf("strata %s shows no example:\n%s", strings.Join(args, " "), out)
		}
	}
}

// TestReadmeCommands checks that the README's first two commands are still
// the two the project promises: make demo, then make test, and that the
// documents it links to exist.
func TestReadmeCommands(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(self), "..", "..")
	data, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var first []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "make ") {
			first = append(first, strings.Fields(l)[1])
		}
	}
	if len(first) < 2 || first[0] != "demo" || first[1] != "test" {
		t.Errorf("the README's first commands are %q, want make demo then make test", first)
	}
	for _, link := range []string{"docs/tutorial.md", "docs/tutorial.fr.md", "docs/reference/strata.md", "docs/internals.md"} {
		if !strings.Contains(string(data), "("+link+")") {
			t.Errorf("README.md does not link to %s", link)
		}
		if _, err := os.Stat(filepath.Join(repo, link)); err != nil {
			t.Errorf("README.md links to %s: %v", link, err)
		}
	}
}
