package solver

import (
	"context"

	"github.com/strata-build/strata/internal/executor"
)

// Executor runs what a step runs in the sandbox: a RUN's command (Run, which
// returns its exit code) and the file ops of COPY, ADD and WORKDIR (Do), each
// over the spec's lower dirs with the spec's upper dir taking the writes.
// The solver owns this interface so that it can be tested without root.
type Executor interface {
	Run(ctx context.Context, spec executor.RunSpec) (int, error)
	Do(ctx context.Context, spec executor.DoSpec) error
}

// sandbox is the built-in Executor: the executor package's namespaces on
// overlayfs.
type sandbox struct{}

var _ Executor = sandbox{}

// Run runs a RUN's command with executor.Run.
func (sandbox) Run(ctx context.Context, spec executor.RunSpec) (int, error) {
	return executor.Run(ctx, spec)
}

// Do runs a file op with executor.Do.
func (sandbox) Do(ctx context.Context, spec executor.DoSpec) error {
	return executor.Do(ctx, spec)
}

// isolated is an Executor that runs every spec in one isolation.
type isolated struct {
	exec Executor
	iso  executor.Isolation
}

var _ Executor = isolated{}

// Run runs spec in i's isolation.
func (i isolated) Run(ctx context.Context, spec executor.RunSpec) (int, error) {
	spec.Isolation = i.iso
	return i.exec.Run(ctx, spec)
}

// Do runs spec in i's isolation.
func (i isolated) Do(ctx context.Context, spec executor.DoSpec) error {
	spec.Isolation = i.iso
	return i.exec.Do(ctx, spec)
}
