package conformance

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/strata-build/strata/test/testenv"
)

// dockerd is the private docker daemon of one test run.
type dockerd struct{ *testenv.Dockerd }

// startDockerd starts a docker daemon of the run's own (testenv) on
// overlay2, the oracle's storage driver; a daemon that does not come up
// fails the run.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	return &dockerd{testenv.StartDockerd(t, testenv.DockerdOptions{Drivers: []string{"overlay2"}})}
}

// command is the docker client against the daemon, with BuildKit on.
func (d *dockerd) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := d.Command(ctx, args...)
	cmd.Env = append(cmd.Env, "DOCKER_BUILDKIT=1")
	return cmd
}

// output runs the docker client and returns its stdout; the error carries
// stderr.
func (d *dockerd) output(ctx context.Context, args ...string) (string, error) {
	cmd := d.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(testenv.LastLines(errb.String(), 10)))
	}
	return out.String(), nil
}
