package solver

import (
	"fmt"
	"runtime/debug"

	"github.com/strata-build/strata/internal/dockerfile"
)

// PanicError is a panic caught in a build: a strata defect, turned into an
// error of the build instead of a crash of the process.
type PanicError struct {
	// Where names the stage and the instruction that was running, with
	// the Dockerfile's file:line ("Dockerfile:3: COPY . /dst (stage 0)"),
	// or the part of the build outside any stage.
	Where string
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack.
	Stack []byte
}

// Error returns a one-line message; the stack is in Detail.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%s: internal error (a strata bug, please report it with the stack below): panic: %v", e.Where, e.Value)
}

// Detail returns the stack of the panic, for a bug report.
func (e *PanicError) Detail() string {
	return string(e.Stack)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// recoverAs turns a panic into a *PanicError stored in *err, naming where
// with the result of describe. It must be deferred directly.
func recoverAs(err *error, describe func() string) {
	r := recover()
	if r == nil {
		return
	}
	*err = &PanicError{Where: describe(), Value: r, Stack: debug.Stack()}
}

// where names the stage and its running instruction, with file:line, for a
// *PanicError.
func (sr *stageRun) where() string {
	stage := fmt.Sprintf("stage %d", sr.ps.Index)
	if sr.ps.Name != "" {
		stage = fmt.Sprintf("stage %d (%s)", sr.ps.Index, sr.ps.Name)
	}
	file := sr.b.df.File
	if sr.cur == nil {
		return fmt.Sprintf("%s:%d: FROM %s, %s", file, dockerfile.Line(sr.ps.Src.Location), sr.ps.Base, stage)
	}
	return fmt.Sprintf("%s:%d: %s, %s", file, dockerfile.Line(sr.cur.Location()), instructionText(sr.cur), stage)
}
