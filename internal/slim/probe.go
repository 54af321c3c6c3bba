package slim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/container"
	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/store"
)

// Probe is one run of the image, traced to learn what it uses, then
// repeated on the slimmed image, which must answer the same.
type Probe struct {
	// Args replace the image's CMD (its ENTRYPOINT stays), as the
	// arguments of strata run; none runs the image's own command.
	Args []string
	// HTTP, when set, is sent to the command once it listens, inside the
	// sandbox's network namespace; then the command gets SIGTERM.
	HTTP *executor.HTTPProbe
}

// String is how the probe is named in messages and the image's history.
func (p Probe) String() string {
	switch {
	case p.HTTP != nil:
		return fmt.Sprintf("--http-probe %d:%s", p.HTTP.Port, p.HTTP.Path)
	case len(p.Args) > 0:
		quoted := make([]string, len(p.Args))
		for i, a := range p.Args {
			quoted[i] = a
			if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]#~") {
				quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
			}
		}
		return fmt.Sprintf("--probe %q", strings.Join(quoted, " "))
	}
	return "the image's command"
}

// Output is what one run of a probe gave.
type Output struct {
	Exit   int                    `json:"exit"`
	Stdout string                 `json:"stdout"`
	Stderr string                 `json:"stderr"`
	HTTP   *executor.HTTPResponse `json:"http,omitempty"`
}

// Outcome is a probe's output on the original image and on the slimmed
// one.
type Outcome struct {
	Probe    string `json:"probe"`
	Original Output `json:"original"`
	Slim     Output `json:"slim"`
}

// DiffError says that a probe answered otherwise after slimming.
type DiffError struct {
	// Probe is the probe's number, from 1, and name.
	Probe string
	// What differed, original then slimmed.
	What string
}

func (e *DiffError) Error() string {
	return fmt.Sprintf("slim: probe %s answers otherwise on the slimmed image: %s; pin what it needs with --include or --include-bin", e.Probe, e.What)
}

// run runs probe i of opts on img, traced, and returns its output and the
// paths it used. A run that does not end within opts.Timeout is an error.
func run(ctx context.Context, st *store.Store, img v1.Image, opts Options, i int) (Output, []string, error) {
	p := opts.Probes[i]
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	copts := container.Options{
		Image:       opts.Ref,
		Args:        p.Args,
		Network:     "none",
		Stdout:      &stdout,
		Stderr:      &stderr,
		Snapshotter: opts.Snapshotter,
	}
	t, err := container.Trace(ctx, st, img, copts, executor.TraceSpec{HTTP: p.HTTP, Wait: opts.Timeout})
	name := fmt.Sprintf("%d (%s)", i+1, p)
	if errors.Is(err, context.DeadlineExceeded) {
		hint := "give --timeout"
		if p.HTTP == nil {
			hint = "a server needs --http-probe PORT:PATH; or give --timeout"
		}
		return Output{}, nil, fmt.Errorf("slim: probe %s still ran after %s: %s", name, opts.Timeout, hint)
	}
	if err != nil {
		return Output{}, nil, fmt.Errorf("slim: probe %s: %w", name, err)
	}
	return Output{Exit: t.Exit, Stdout: stdout.String(), Stderr: stderr.String(), HTTP: t.HTTP}, t.Paths, nil
}

// compare returns a *DiffError when probe i's outputs differ: the exit
// status, and the HTTP answer (status and body) of an HTTP probe, or else
// stdout and stderr. A server's output is not compared: its log lines
// hold times and ports.
func compare(i int, o Outcome) error {
	a, b := o.Original, o.Slim
	name := fmt.Sprintf("%d (%s)", i+1, o.Probe)
	switch {
	case b.HTTP != nil && b.HTTP.Error != "":
		return &DiffError{name, fmt.Sprintf("no HTTP answer (%s), was status %d; output: %s", b.HTTP.Error, a.HTTP.Status, tail(b.Stderr))}
	case a.Exit != b.Exit:
		return &DiffError{name, fmt.Sprintf("exit status %d, was %d (stderr now: %s)", b.Exit, a.Exit, tail(b.Stderr))}
	case a.HTTP != nil && (b.HTTP == nil || a.HTTP.Status != b.HTTP.Status):
		return &DiffError{name, fmt.Sprintf("HTTP status %v, was %d", statusOf(b.HTTP), a.HTTP.Status)}
	case a.HTTP != nil && !bytes.Equal(a.HTTP.Body, b.HTTP.Body):
		return &DiffError{name, fmt.Sprintf("HTTP body %q, was %q", tail(string(b.HTTP.Body)), tail(string(a.HTTP.Body)))}
	case a.HTTP == nil && a.Stdout != b.Stdout:
		return &DiffError{name, fmt.Sprintf("stdout %q, was %q", tail(b.Stdout), tail(a.Stdout))}
	case a.HTTP == nil && a.Stderr != b.Stderr:
		return &DiffError{name, fmt.Sprintf("stderr %q, was %q", tail(b.Stderr), tail(a.Stderr))}
	}
	return nil
}

func statusOf(r *executor.HTTPResponse) any {
	if r == nil {
		return "none"
	}
	return r.Status
}

// tail is the end of s, short enough for a message.
func tail(s string) string {
	const max = 300
	if len(s) > max {
		return "..." + s[len(s)-max:]
	}
	return s
}
