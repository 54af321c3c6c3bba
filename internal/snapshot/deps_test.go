package snapshot

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the pipeline's direction: the snapshotter knows
// layers and the store's format, not the solver, the executor or the CLI.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/strata-build/strata/internal/"
	for _, forbidden := range []string{"build", "solver", "executor", "cli", "container"} {
		for _, dep := range strings.Fields(string(out)) {
			if dep == mod+forbidden || strings.HasPrefix(dep, mod+forbidden+"/") {
				t.Errorf("internal/snapshot depends on %s", dep)
			}
		}
	}
}
