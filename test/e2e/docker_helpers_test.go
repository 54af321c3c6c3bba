package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/test/testenv"
)

// dockerd is a private docker daemon started for one test.
type dockerd struct {
	t *testing.T
	*testenv.Dockerd
}

// startDockerd starts a docker daemon of the test's own (testenv), trying
// overlay2 first and falling back to vfs.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	return &dockerd{t: t, Dockerd: testenv.StartDockerd(t, testenv.DockerdOptions{Drivers: []string{"overlay2", "vfs"}})}
}

// exec runs the docker client with stdin (nil: none) and returns what it
// printed.
func (d *dockerd) exec(stdin []byte, args ...string) (stdout, stderr string, err error) {
	return d.execFor(2*time.Minute, stdin, args...)
}

// execFor is exec with a time limit of its own, for long runs such as a
// build inside a container.
func (d *dockerd) execFor(limit time.Duration, stdin []byte, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := d.Command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// must runs the docker client and fails the test if it fails.
func (d *dockerd) must(args ...string) string {
	d.t.Helper()
	out, errs, err := d.exec(nil, args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errs)
	}
	return out
}
