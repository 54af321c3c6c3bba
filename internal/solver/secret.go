package solver

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/executor"
)

// secretMount is one RUN --mount=type=secret after resolving its defaults.
type secretMount struct {
	id       string
	target   string // "" when the secret only goes to an env var
	env      string // env var name, "" for none
	required bool
	mode     os.FileMode
	uid, gid int
}

// secretMounts returns the secret mounts of c, with BuildKit's defaults: the
// id is id=, else source=, else the target's base name; the target is
// /run/secrets/ID unless env= is given alone; the file is 0400 root:root.
func (sr *stageRun) secretMounts(c *instructions.RunCommand) []secretMount {
	var out []secretMount
	for _, m := range instructions.GetMounts(c) {
		if m.Type != instructions.MountTypeSecret {
			continue
		}
		s := secretMount{id: m.CacheID, target: m.Target, required: m.Required, mode: 0o400}
		if m.Source != "" {
			s.id = m.Source
		}
		if s.id == "" {
			s.id = path.Base(s.target)
		}
		if m.Env != nil {
			s.env = *m.Env
			if s.env == "" {
				s.env = s.id
			}
		} else if s.target == "" {
			s.target = "/run/secrets/" + path.Base(s.id)
		}
		if s.target != "" && !strings.HasPrefix(s.target, "/") {
			s.target = sr.resolvePath(s.target)
		}
		mountPerms(m, &s.mode, &s.uid, &s.gid)
		out = append(out, s)
	}
	return out
}

// mountPerms sets mode, uid and gid from a secret or ssh mount's mode=,
// uid= and gid= options, where given (the callers' defaults stay otherwise).
func mountPerms(m *instructions.Mount, mode *os.FileMode, uid, gid *int) {
	if m.Mode != nil {
		*mode = os.FileMode(*m.Mode) & 0o7777
	}
	if m.UID != nil {
		*uid = int(*m.UID)
	}
	if m.GID != nil {
		*gid = int(*m.GID)
	}
}

// checkSecrets fails when a required secret was not given.
func (sr *stageRun) checkSecrets(c *instructions.RunCommand) error {
	for _, s := range sr.secretMounts(c) {
		if _, ok := sr.b.opts.Secrets[s.id]; !ok && s.required {
			return fmt.Errorf("secret %q is required but was not given: pass it with --secret id=%s,src=FILE (or env=VAR)", s.id, s.id)
		}
	}
	return nil
}

// secretKey is the part of a RUN's cache key its secret mounts make: where
// each secret goes and whether it was given, never its content.
func (sr *stageRun) secretKey(c *instructions.RunCommand) string {
	var parts []string
	for _, s := range sr.secretMounts(c) {
		_, present := sr.b.opts.Secrets[s.id]
		parts = append(parts, fmt.Sprintf("secret:%s:%s:%s:%o:%d:%d:present=%t", s.id, s.target, s.env, s.mode, s.uid, s.gid, present))
	}
	return strings.Join(parts, ",")
}

// secretEnv returns the KEY=VALUE pairs of the secrets c asks for as
// environment variables.
func (sr *stageRun) secretEnv(c *instructions.RunCommand) []string {
	var env []string
	for _, s := range sr.secretMounts(c) {
		if data, ok := sr.b.opts.Secrets[s.id]; ok && s.env != "" {
			env = append(env, s.env+"="+string(data))
		}
	}
	return env
}

// secretFiles writes the given secrets c mounts as files into a fresh
// directory on a tmpfs (/dev/shm; the build's scratch dir when there is no
// such tmpfs), so that they never touch a disk, and returns read-only bind
// mounts of them. cleanup removes the files.
func (sr *stageRun) secretFiles(_ context.Context, c *instructions.RunCommand) ([]executor.Mount, func(), error) {
	var mounts []executor.Mount
	dir := ""
	cleanup := func() {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	for i, s := range sr.secretMounts(c) {
		data, ok := sr.b.opts.Secrets[s.id]
		if !ok || s.target == "" {
			continue // an optional secret that was not given is not mounted, as in BuildKit
		}
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp(secretBase(sr.b.tmp), "strata-secret-"); err != nil {
				return nil, cleanup, fmt.Errorf("--mount=type=secret,id=%s: %w", s.id, err)
			}
		}
		p := filepath.Join(dir, strconv.Itoa(i))
		if err := writeSecret(p, data, s); err != nil {
			return nil, cleanup, fmt.Errorf("--mount=type=secret,id=%s: %w", s.id, err)
		}
		mounts = append(mounts, executor.Mount{Type: "bind", Source: p, Target: s.target, ReadOnly: true,
			Options: []string{"nosuid", "nodev", "noexec"}})
	}
	return mounts, cleanup, nil
}

func writeSecret(p string, data []byte, s secretMount) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chown(p, s.uid, s.gid); err != nil {
		return err
	}
	return os.Chmod(p, s.mode)
}
