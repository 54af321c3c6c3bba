package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The helpers of the RUN --mount=type=ssh tests are prefixed with rssh.

// rsshAgent starts an ssh-agent on a socket of its own holding a fresh
// ed25519 key, and returns the socket and the key's "blob comment" line.
func rsshAgent(t *testing.T) (sock, key string) {
	t.Helper()
	for _, tool := range []string{"ssh-agent", "ssh-keygen", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("RUN --mount=type=ssh tests need %s (apt-get install openssh-client): %v", tool, err)
		}
	}
	dir := t.TempDir()
	sock = filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("starting ssh-agent: %v", err)
	}
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 100 {
			t.Fatal("ssh-agent made no socket in 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "strata-test-key", "-f", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	add := exec.Command("ssh-add", keyFile)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(pub)) // type blob comment
	return sock, f[1] + " " + f[2]
}

// rsshRun runs strata with env added to the environment.
func rsshRun(t *testing.T, s *strata, env2 []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.bin, append([]string{"--root", s.root}, args...)...)
	cmd.Env = append(os.Environ(), env2...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running strata: %v", err)
	}
	return r
}

// rsshAgentls builds the static agent lister the RUNs use into dir.
func rsshAgentls(t *testing.T, dir string) {
	t.Helper()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "agentls"), "./testdata/agentls")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building agentls: %v\n%s", err, out)
	}
}

// TestRunMountSSH: RUN --mount=type=ssh sees the agent of --ssh (default
// from $SSH_AUTH_SOCK, or id=SOCKET) at BuildKit's default target with
// SSH_AUTH_SOCK set, or at target= with the mount's owner and mode; the
// agent is gone after the RUN, and nothing of it reaches the image.
func TestRunMountSSH(t *testing.T) {
	sock, key := rsshAgent(t)
	s := newStrata(t)
	df := `FROM busybox
COPY agentls /agentls
RUN --mount=type=ssh /agentls > /default-keys && echo "$SSH_AUTH_SOCK" > /default-sock
RUN --mount=type=ssh,id=deploy,target=/tmp/agent,uid=1000,gid=1000,mode=0660 stat -c '%u %g %a' /tmp/agent > /deploy-stat && SSH_AUTH_SOCK=/tmp/agent /agentls > /deploy-keys
RUN --mount=type=ssh,id=absent true
RUN ls /run/buildkit 2>/dev/null | wc -l > /left; ls /tmp > /tmp-left
`
	ctx := bldContext(t, df, nil)
	rsshAgentls(t, ctx)
	r := rsshRun(t, s, []string{"SSH_AUTH_SOCK=" + sock}, "build", "-t", "ssh", "--ssh", "default", "--ssh", "deploy="+sock, ctx)
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	e := bldExport(t, s, "ssh")
	for name, want := range map[string]string{
		"default-keys": key + "\n", "default-sock": "/run/buildkit/ssh_agent.0\n",
		"deploy-stat": "1000 1000 660\n", "deploy-keys": key + "\n", "left": "0\n", "tmp-left": "",
	} {
		if got := bldFile(t, e, name); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
	if _, ok := e["tmp/agent"]; ok {
		t.Errorf("the agent's mount point is left in the image")
	}
}

// TestRunMountSSHErrors: a required agent that was not given, a --ssh
// without $SSH_AUTH_SOCK, and a key file given as a socket are refused.
func TestRunMountSSHErrors(t *testing.T) {
	s := newStrata(t)
	keyDir := t.TempDir()
	keyFile := filepath.Join(keyDir, "id")
	if err := os.WriteFile(keyFile, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		df   string
		args []string
		want string
	}{
		{"required", "FROM busybox\nRUN --mount=type=ssh,required=true true\n", nil, "Dockerfile:2"},
		{"no agent", "FROM busybox\nRUN true\n", []string{"--ssh", "default"}, "SSH_AUTH_SOCK is not set"},
		{"key file", "FROM busybox\nRUN true\n", []string{"--ssh", "default=" + keyFile}, "not a socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"build"}, tt.args...)
			r := rsshRun(t, s, []string{"SSH_AUTH_SOCK="}, append(args, bldContext(t, tt.df, nil))...)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want an error with %q:\n%s", r.code, tt.want, r.stderr)
			}
		})
	}
}
