package solver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/store"
)

// fakeExec is an Executor that needs no root: it records each RUN's spec
// and runs its shell script as a tiny language of ";"-separated commands
// on the upper dir:
//
//	write P TEXT   writes TEXT to P in the upper dir
//	exit N         ends with exit code N
//	meet           waits until fakeExec.meet RUNs are meeting at once
//	block          waits for the build to be cancelled
//	panic          panics
//
// Do performs a COPY of plain files (no globs, no chown) or a WORKDIR mkdir.
type fakeExec struct {
	meet int // how many RUNs "meet" waits for

	mu        sync.Mutex
	runs      []executor.RunSpec
	meeting   int
	met       chan struct{}
	cancelled int // RUNs that "block" saw the build cancelled
}

var _ Executor = (*fakeExec)(nil)

// Run records spec and interprets its script.
func (f *fakeExec) Run(ctx context.Context, spec executor.RunSpec) (int, error) {
	f.mu.Lock()
	f.runs = append(f.runs, spec)
	f.mu.Unlock()
	script := spec.Args[len(spec.Args)-1]
	for _, cmd := range strings.Split(script, ";") {
		w := strings.Fields(cmd)
		if len(w) == 0 {
			continue
		}
		switch w[0] {
		case "write":
			p := filepath.Join(spec.Rootfs.Upper, w[1])
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return -1, err
			}
			if err := os.WriteFile(p, []byte(strings.Join(w[2:], " ")), 0o644); err != nil {
				return -1, err
			}
		case "exit":
			n, err := strconv.Atoi(w[1])
			if err != nil {
				return -1, err
			}
			return n, nil
		case "meet":
			if err := f.waitMeet(ctx); err != nil {
				return -1, err
			}
		case "block":
			<-ctx.Done()
			f.mu.Lock()
			f.cancelled++
			f.mu.Unlock()
			return -1, ctx.Err()
		case "panic":
			panic("fake executor: injected defect")
		default:
			fmt.Fprintf(spec.Stdout, "%s: not found\n", w[0])
			return 127, nil
		}
	}
	return 0, nil
}

// waitMeet returns once f.meet RUNs are in it together: it fails when the
// solver does not run them at once.
func (f *fakeExec) waitMeet(ctx context.Context) error {
	f.mu.Lock()
	if f.met == nil {
		f.met = make(chan struct{})
	}
	met := f.met
	f.meeting++
	if f.meeting == f.meet {
		close(met)
	}
	f.mu.Unlock()
	select {
	case <-met:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(20 * time.Second):
		return fmt.Errorf("fake executor: %d RUNs met, want %d at once", f.meeting, f.meet)
	}
}

// Do performs a WORKDIR's mkdir or a COPY of plain files into the upper dir.
func (f *fakeExec) Do(ctx context.Context, spec executor.DoSpec) error {
	var arg copyArg
	if err := json.Unmarshal(spec.Arg, &arg); err != nil {
		return err
	}
	upper := spec.Rootfs.Upper
	if arg.Mkdir != "" {
		return os.MkdirAll(filepath.Join(upper, arg.Mkdir), 0o755)
	}
	a := arg.Action
	for _, s := range a.Sources {
		data, err := readSource(a.SrcRoot, arg.SrcLowers, s.Rel)
		if err != nil {
			return err
		}
		dest := a.Dest
		if strings.HasSuffix(dest, "/") {
			dest = path.Join(dest, path.Base(s.Rel))
		}
		p := filepath.Join(upper, dest)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readSource reads rel from root or, without one, from the topmost of
// lowers that has it.
func readSource(root string, lowers []string, rel string) ([]byte, error) {
	if root != "" {
		return os.ReadFile(filepath.Join(root, rel))
	}
	for _, l := range lowers {
		if data, err := os.ReadFile(filepath.Join(l, rel)); err == nil {
			return data, nil
		}
	}
	return nil, fmt.Errorf("fake executor: %s: no such file in the source", rel)
}

// scripts returns the scripts of the RUNs run so far.
func (f *fakeExec) scripts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.runs {
		out = append(out, r.Args[len(r.Args)-1])
	}
	return out
}

// recorder is a progress sink that keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []progress.Event
}

func (r *recorder) Event(e progress.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// fakeBuild builds dockerfile into st with exec, the files of ctxFiles as
// the build context, and opts' other fields.
func fakeBuild(t *testing.T, st *store.Store, exec Executor, dockerfile string, ctxFiles map[string]string, opts Options) (*Result, error) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range ctxFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts.ContextDir = dir
	opts.DockerfileContent = []byte(dockerfile)
	opts.DockerfileName = "Dockerfile"
	opts.Executor = exec
	return Build(context.Background(), st, opts)
}

// openStore opens a fresh store in a test dir.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}
