// Package depcheck holds the test that keeps strata's dependency direction:
// Dockerfile → plan → solver → snapshots and layers → store → outputs. It reads
// the import graph with `go list -json`.
package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/strata-build/strata"

// pkg is what the check needs of one entry of `go list -json`.
type pkg struct {
	ImportPath string
	Imports    []string // direct imports of the non-test files
	Deps       []string // every package it depends on, transitively
}

// ioImports are the packages whose import means a package does I/O itself.
var ioImports = []string{
	"os", "os/exec", "os/signal", "io/ioutil", "net", "net/http", "syscall",
	"golang.org/x/sys/unix", "github.com/google/go-containerregistry/pkg/v1/remote",
}

// pureAllowed are the only strata packages the pure front end (Dockerfile
// parsing and planning) may depend on.
var pureAllowed = map[string][]string{
	"internal/dockerfile": {},
	"internal/plan":       {"internal/dockerfile"},
}

// cliImporters are the only packages that may import the CLI.
var cliImporters = []string{"cmd/strata", "tools/gendocs"}

// solverPkg is the solver's package.
const solverPkg = "internal/solver"

func TestDependencyDirection(t *testing.T) {
	pkgs := listPackages(t)
	for _, rel := range []string{"internal/dockerfile", "internal/plan", "internal/cli", "cmd/strata"} {
		if _, ok := pkgs[module+"/"+rel]; !ok {
			t.Fatalf("go list did not list %s", rel)
		}
	}
	if _, ok := pkgs[module+"/internal/snapshot"]; !ok {
		t.Log("internal/snapshot does not exist yet: its rule applies once it does")
	}
	for _, p := range check(pkgs) {
		t.Error(p)
	}
}

// TestCheckFindsViolations runs the rules on made-up graphs that break them,
// so that the test above cannot pass by checking nothing.
func TestCheckFindsViolations(t *testing.T) {
	m := func(rel string) string { return module + "/" + rel }
	tests := []struct {
		name string
		pkgs []pkg
		want string
	}{
		{"plan opens files", []pkg{{ImportPath: m("internal/plan"), Imports: []string{"os"}}}, "internal/plan imports os"},
		{"dockerfile reaches the store", []pkg{{ImportPath: m("internal/dockerfile"), Deps: []string{m("internal/iox"), m("internal/store")}}}, "internal/dockerfile depends on internal/iox"},
		{"plan reaches the executor", []pkg{{ImportPath: m("internal/plan"), Deps: []string{m("internal/dockerfile"), m("internal/executor")}}}, "internal/plan depends on internal/executor"},
		{"a library imports the CLI", []pkg{{ImportPath: m("internal/analyze"), Imports: []string{m("internal/cli")}}}, "internal/analyze imports internal/cli"},
		{"snapshot reaches the solver", []pkg{{ImportPath: m("internal/snapshot"), Deps: []string{m("internal/solver")}}}, "internal/snapshot depends on internal/solver"},
		{"the store imports the solver", []pkg{{ImportPath: m("internal/store"), Imports: []string{m("internal/solver")}}}, "internal/store imports internal/solver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs := map[string]pkg{}
			for _, p := range tt.pkgs {
				pkgs[p.ImportPath] = p
			}
			got := check(pkgs)
			if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, tt.want) }) {
				t.Errorf("got %q, want a problem saying %q", got, tt.want)
			}
		})
	}
	allowed := map[string]pkg{
		m("cmd/strata"):    {ImportPath: m("cmd/strata"), Imports: []string{m("internal/cli")}},
		m("internal/plan"): {ImportPath: m("internal/plan"), Imports: []string{"fmt"}, Deps: []string{"os", m("internal/dockerfile")}},
		m("internal/cli"):  {ImportPath: m("internal/cli"), Imports: []string{m("internal/solver")}},
	}
	if got := check(allowed); len(got) != 0 {
		t.Errorf("got %q for an allowed graph, want no problems", got)
	}
}

// check returns one sentence per broken rule.
func check(pkgs map[string]pkg) []string {
	var out []string
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		if allowed, ok := pureAllowed[rel]; ok {
			for _, imp := range p.Imports {
				if slices.Contains(ioImports, imp) {
					out = append(out, fmt.Sprintf("%s imports %s: parsing and planning do no I/O", rel, imp))
				}
			}
			for _, dep := range p.Deps {
				if r, ok := strings.CutPrefix(dep, module+"/"); ok && !slices.Contains(allowed, r) {
					out = append(out, fmt.Sprintf("%s depends on %s: it may depend only on %v", rel, r, allowed))
				}
			}
		}
		if slices.Contains(p.Imports, module+"/internal/cli") && !slices.Contains(cliImporters, rel) {
			out = append(out, fmt.Sprintf("%s imports internal/cli: only %v may; move what it needs into a library package", rel, cliImporters))
		}
		if rel == "internal/snapshot" && slices.Contains(p.Deps, module+"/"+solverPkg) {
			out = append(out, fmt.Sprintf("internal/snapshot depends on %s: the solver uses snapshots, not the other way", solverPkg))
		}
		if slices.Contains(p.Imports, module+"/"+solverPkg) && !mayUseSolver(rel) {
			out = append(out, fmt.Sprintf("%s imports %s: the solver sits above the packages it drives", rel, solverPkg))
		}
	}
	sort.Strings(out)
	return out
}

// mayUseSolver reports whether rel may import the solver: the CLI, commands
// and tools.
func mayUseSolver(rel string) bool {
	return rel == solverPkg || rel == "internal/cli" ||
		strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "tools/")
}

// listPackages returns every package of the module by import path.
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs, err := decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// decode reads the stream of JSON objects that `go list -json` writes.
func decode(r io.Reader) (map[string]pkg, error) {
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(r)
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading go list output: %w", err)
		}
		pkgs[p.ImportPath] = p
	}
}
