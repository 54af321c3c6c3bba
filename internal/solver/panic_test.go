package solver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/store"
)

// panicSink panics on the first event whose name or line contains on: a
// defect injected through the build's public options.
type panicSink struct{ on string }

func (p panicSink) Event(e progress.Event) {
	if (e.Name != "" && strings.Contains(e.Name, p.on)) || (e.Line != "" && strings.Contains(e.Line, p.on)) {
		panic("injected defect at " + p.on)
	}
}

// TestBuildPanicIsAnError checks that a panic in a stage, or in the build
// outside any stage, ends the build with a *PanicError that names where it
// happened and carries the stack, and that the stages depending on a
// panicking stage do not run on its missing result.
func TestBuildPanicIsAnError(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		buildArgs  map[string]string
		on         string
		wantWhere  string
	}{
		{
			name:       "stage FROM",
			dockerfile: "FROM scratch AS a\nENV A=1\nFROM scratch\nCOPY --from=a /x /y\n",
			on:         "[a 1/2] FROM scratch",
			wantWhere:  "Dockerfile:1: FROM scratch, stage 0 (a)",
		},
		{
			name:       "build entry",
			dockerfile: "FROM scratch\nENV A=1\n",
			buildArgs:  map[string]string{"UNUSED": "1"},
			on:         "UNUSED",
			wantWhere:  "build",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			res, err := Build(context.Background(), st, Options{
				DockerfileContent: []byte(tt.dockerfile),
				DockerfileName:    "Dockerfile",
				BuildArgs:         tt.buildArgs,
				Progress:          panicSink{on: tt.on},
			})
			if err == nil {
				t.Fatalf("Build: got result %+v, want a panic error", res)
			}
			var pe *PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Build: got error %v (%T), want a *PanicError", err, err)
			}
			if got := pe.Where; got != tt.wantWhere {
				t.Errorf("Where: got %q, want %q", got, tt.wantWhere)
			}
			if got, want := err.Error(), "panic: injected defect at "+tt.on; !strings.Contains(got, want) {
				t.Errorf("message: got %q, want it to contain %q", got, want)
			}
			if got := pe.Detail(); !strings.Contains(got, "panicSink.Event") {
				t.Errorf("Detail: got %q, want the stack through panicSink.Event", got)
			}
		})
	}
}
