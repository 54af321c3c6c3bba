package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-build/strata/internal/buildcontext"
	"github.com/strata-build/strata/internal/gitsrc"
	"github.com/strata-build/strata/internal/solver"
	"github.com/strata-build/strata/internal/store"
)

// namedContexts turns --build-context NAME=VALUE values into the solver's
// named contexts, as buildx reads them: a directory, docker-image://REF or
// a git URL (checked out under tmp).
func namedContexts(ctx context.Context, values []string, tmp string) (map[string]solver.NamedContext, error) {
	out := map[string]solver.NamedContext{}
	for i, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" || val == "" {
			return nil, fmt.Errorf("--build-context %q: want NAME=VALUE (a directory, docker-image://REF or a git URL)", v)
		}
		name, err := solver.ContextName(k)
		if err != nil {
			return nil, fmt.Errorf("--build-context %q: %w", v, err)
		}
		nc, err := namedContext(ctx, val, filepath.Join(tmp, "named-"+strconv.Itoa(i)))
		if err != nil {
			return nil, fmt.Errorf("--build-context %s: %w", v, err)
		}
		out[name] = nc
	}
	return out, nil
}

// namedContext reads one --build-context value.
func namedContext(ctx context.Context, val, dir string) (solver.NamedContext, error) {
	switch {
	case strings.HasPrefix(val, "docker-image://"):
		ref := strings.TrimPrefix(val, "docker-image://")
		if _, err := store.Normalize(ref); err != nil {
			return solver.NamedContext{}, err
		}
		return solver.NamedContext{Image: ref}, nil
	case strings.HasPrefix(val, "oci-layout://"):
		return solver.NamedContext{}, fmt.Errorf("oci-layout:// contexts are not supported: load the layout into the store first (strata load) and use docker-image://NAME")
	case strings.HasPrefix(val, "target:") || strings.HasPrefix(val, "input:"):
		return solver.NamedContext{}, fmt.Errorf("%s contexts belong to buildx bake, which strata does not have: build that target first and use docker-image://NAME", strings.SplitN(val, ":", 2)[0])
	case gitsrc.IsGit(val):
		if err := os.Mkdir(dir, 0o755); err != nil {
			return solver.NamedContext{}, err
		}
		f, err := buildcontext.Fetch(ctx, val, nil, dir)
		if err != nil {
			return solver.NamedContext{}, err
		}
		return solver.NamedContext{Dir: f.Dir, Fetched: true}, nil
	case strings.Contains(val, "://"):
		return solver.NamedContext{}, fmt.Errorf("%s: only a directory, docker-image://REF or a git repository URL (ending in .git) can be a named context", val)
	}
	fi, err := os.Stat(val)
	if err != nil || !fi.IsDir() {
		return solver.NamedContext{}, fmt.Errorf("%s is not a directory (nor docker-image://REF, nor a git URL)", val)
	}
	return solver.NamedContext{Dir: val}, nil
}
