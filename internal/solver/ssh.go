package solver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/executor"
)

// sshMount is one RUN --mount=type=ssh after resolving BuildKit's
// defaults: id "default", target /run/buildkit/ssh_agent.N, a socket 0600
// owned by root.
type sshMount struct {
	id       string
	target   string
	required bool
	mode     os.FileMode
	uid, gid int
}

// sshMounts returns the ssh mounts of c.
func (sr *stageRun) sshMounts(c *instructions.RunCommand) []sshMount {
	var out []sshMount
	for _, m := range instructions.GetMounts(c) {
		if m.Type != instructions.MountTypeSSH {
			continue
		}
		s := sshMount{id: m.CacheID, target: m.Target, required: m.Required, mode: 0o600}
		if s.id == "" {
			s.id = "default"
		}
		if s.target == "" {
			s.target = fmt.Sprintf("/run/buildkit/ssh_agent.%d", len(out))
		} else if !strings.HasPrefix(s.target, "/") {
			s.target = sr.resolvePath(s.target)
		}
		mountPerms(m, &s.mode, &s.uid, &s.gid)
		out = append(out, s)
	}
	return out
}

// checkSSH fails when a required ssh mount's id was not given (--ssh).
func (sr *stageRun) checkSSH(c *instructions.RunCommand) error {
	for _, s := range sr.sshMounts(c) {
		if _, ok := sr.b.opts.SSH[s.id]; !ok && s.required {
			return fmt.Errorf("ssh agent %q is required but was not given: pass it with --ssh %s (the $SSH_AUTH_SOCK agent) or --ssh %s=SOCKET", s.id, s.id, s.id)
		}
	}
	return nil
}

// sshKey is the part of a RUN's cache key its ssh mounts make: where each
// agent goes and whether it was given.
func (sr *stageRun) sshKey(c *instructions.RunCommand) string {
	var parts []string
	for _, s := range sr.sshMounts(c) {
		_, present := sr.b.opts.SSH[s.id]
		parts = append(parts, fmt.Sprintf("ssh:%s:%s:%o:%d:%d:present=%t", s.id, s.target, s.mode, s.uid, s.gid, present))
	}
	return strings.Join(parts, ",")
}

// sshEnv returns SSH_AUTH_SOCK for the first ssh mount given, as BuildKit
// sets it.
func (sr *stageRun) sshEnv(c *instructions.RunCommand) []string {
	for _, s := range sr.sshMounts(c) {
		if _, ok := sr.b.opts.SSH[s.id]; ok {
			return []string{"SSH_AUTH_SOCK=" + s.target}
		}
	}
	return nil
}

// sshAgents serves, for each ssh mount of c whose agent was given, a
// socket with the mount's owner and mode that forwards every connection
// to the agent's socket, and returns bind mounts of them (an agent not
// given and not required is not mounted, as in BuildKit). stop closes the
// sockets and waits for the connections.
func (sr *stageRun) sshAgents(ctx context.Context, c *instructions.RunCommand) ([]executor.Mount, func(), error) {
	var (
		mounts []executor.Mount
		lns    []net.Listener
		wg     sync.WaitGroup
		dir    string
	)
	stop := func() {
		for _, l := range lns {
			l.Close()
		}
		wg.Wait()
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	for i, s := range sr.sshMounts(c) {
		agent, ok := sr.b.opts.SSH[s.id]
		if !ok {
			continue
		}
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp(sr.b.tmp, "ssh-"); err != nil {
				return nil, stop, fmt.Errorf("--mount=type=ssh,id=%s: %w", s.id, err)
			}
		}
		p := filepath.Join(dir, fmt.Sprint(i))
		l, err := net.Listen("unix", p)
		if err != nil {
			return nil, stop, fmt.Errorf("--mount=type=ssh,id=%s: %w", s.id, err)
		}
		lns = append(lns, l)
		if err := os.Chown(p, s.uid, s.gid); err != nil {
			return nil, stop, fmt.Errorf("--mount=type=ssh,id=%s: %w", s.id, err)
		}
		if err := os.Chmod(p, s.mode); err != nil {
			return nil, stop, fmt.Errorf("--mount=type=ssh,id=%s: %w", s.id, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			forwardAgent(ctx, l, agent)
		}()
		mounts = append(mounts, executor.Mount{Type: "bind", Source: p, Target: s.target, Options: []string{"nosuid", "nodev", "noexec"}})
	}
	return mounts, stop, nil
}

// forwardAgent accepts connections on l until it is closed and copies
// each, both ways, to a new connection to the agent socket.
func forwardAgent(ctx context.Context, l net.Listener, agent string) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := l.Accept()
		if err != nil {
			return // closed
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			var d net.Dialer
			up, err := d.DialContext(ctx, "unix", agent)
			if err != nil {
				return // the client sees its connection closed
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(up, conn)
			go pipe(conn, up)
			<-done
			<-done
		}()
	}
}

// CheckSSHAgent checks that path is a unix socket an SSH agent could
// listen on (--ssh takes agent sockets, not key files).
func CheckSSHAgent(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("ssh agent socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return errors.New("ssh agent socket: " + path + " is not a socket: strata forwards agent sockets only; load the key into an agent (eval $(ssh-agent); ssh-add KEY) and pass --ssh default")
	}
	return nil
}
