package solver

import (
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/plan"
)

// The instructions below only change the config. Metadata changes no step's
// key by itself (sr.s.key is the key of the filesystem so far, as BuildKit's
// LLB state): the steps after it see it only through what they execute (RUN:
// its env, user, working dir and SHELL-wrapped argv; COPY/ADD/WORKDIR: their
// expanded words).

// metaHistory records a metadata-only step's history entry, stamped when
// the stage ends (fillHistoryTimes) unless SOURCE_DATE_EPOCH fixes it.
func (sr *stageRun) metaHistory(createdBy string) {
	var now time.Time
	if e := sr.b.opts.SourceDateEpoch; e != nil {
		now = e.UTC()
	}
	sr.s.history(createdBy, true, now)
}

// dispatchEnv handles ENV.
func (sr *stageRun) dispatchEnv(c *instructions.EnvCommand) error {
	cfg := &sr.s.cfg.Config
	var sb strings.Builder
	sb.WriteString("ENV")
	for _, kv := range c.Env {
		sb.WriteString(" " + kv.Key + "=" + kv.Value)
		sr.env.Set(kv.Key, kv.Value)
		cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
	}
	sr.metaHistory(sb.String())
	return nil
}

// dispatchLabel handles LABEL.
func (sr *stageRun) dispatchLabel(c *instructions.LabelCommand) error {
	cfg := &sr.s.cfg.Config
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	var sb strings.Builder
	sb.WriteString("LABEL")
	for _, kv := range c.Labels {
		cfg.Labels[kv.Key] = kv.Value
		sb.WriteString(" " + kv.Key + "=" + kv.Value)
	}
	sr.metaHistory(sb.String())
	return nil
}

// dispatchMaintainer handles MAINTAINER.
func (sr *stageRun) dispatchMaintainer(c *instructions.MaintainerCommand) error {
	sr.s.cfg.Author = c.Maintainer
	sr.metaHistory("MAINTAINER " + c.Maintainer)
	return nil
}

// dispatchExpose handles EXPOSE.
func (sr *stageRun) dispatchExpose(c *instructions.ExposeCommand) error {
	cfg := &sr.s.cfg.Config
	if cfg.ExposedPorts == nil {
		cfg.ExposedPorts = map[string]struct{}{}
	}
	var ports []string
	for _, p := range c.Ports {
		w, err := sr.expand(c.Location(), p)
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(w) {
			ps, err := normalizePorts(f)
			if err != nil {
				return err
			}
			for _, p := range ps {
				cfg.ExposedPorts[p] = struct{}{}
				ports = append(ports, p)
			}
		}
	}
	sr.metaHistory("EXPOSE map[" + strings.Join(mapKeys(ports), " ") + "]")
	return nil
}

// dispatchVolume handles VOLUME.
func (sr *stageRun) dispatchVolume(c *instructions.VolumeCommand) error {
	cfg := &sr.s.cfg.Config
	if cfg.Volumes == nil {
		cfg.Volumes = map[string]struct{}{}
	}
	for _, v := range c.Volumes {
		if v == "" {
			return fmt.Errorf("VOLUME specified can not be an empty string")
		}
		cfg.Volumes[v] = struct{}{}
	}
	sr.metaHistory(fmt.Sprintf("VOLUME %v", c.Volumes))
	return nil
}

// dispatchStopSignal handles STOPSIGNAL.
func (sr *stageRun) dispatchStopSignal(c *instructions.StopSignalCommand) error {
	if !validSignal(c.Signal) {
		return fmt.Errorf("invalid signal %q: use a name like SIGTERM or a number", c.Signal)
	}
	sr.s.cfg.Config.StopSignal = c.Signal
	sr.metaHistory("STOPSIGNAL " + c.Signal)
	return nil
}

// dispatchShell handles SHELL.
func (sr *stageRun) dispatchShell(c *instructions.ShellCommand) error {
	sr.s.cfg.Config.Shell = c.Shell
	sr.metaHistory(fmt.Sprintf("SHELL %v", c.Shell))
	return nil
}

// dispatchUser handles USER.
func (sr *stageRun) dispatchUser(c *instructions.UserCommand) error {
	sr.s.cfg.Config.User = c.User
	sr.metaHistory("USER " + c.User)
	return nil
}

// dispatchCmd handles CMD.
func (sr *stageRun) dispatchCmd(c *instructions.CmdCommand) error {
	args := c.CmdLine
	if c.PrependShell {
		args = sr.withShell(args)
	}
	cfg := &sr.s.cfg.Config
	cfg.Cmd = args
	cfg.ArgsEscaped = true
	sr.cmdSet = true
	sr.metaHistory(fmt.Sprintf("CMD %q", args))
	return nil
}

// dispatchEntrypoint handles ENTRYPOINT; it clears a CMD inherited from
// the base, not one set in this stage.
func (sr *stageRun) dispatchEntrypoint(c *instructions.EntrypointCommand) error {
	args := c.CmdLine
	if c.PrependShell {
		args = sr.withShell(args)
	}
	cfg := &sr.s.cfg.Config
	cfg.Entrypoint = args
	if !sr.cmdSet {
		cfg.Cmd = nil
	}
	sr.metaHistory(fmt.Sprintf("ENTRYPOINT %q", args))
	return nil
}

// dispatchHealthcheck handles HEALTHCHECK.
func (sr *stageRun) dispatchHealthcheck(c *instructions.HealthCheckCommand) error {
	h := c.Health
	cfg := &sr.s.cfg.Config
	cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	sr.metaHistory(fmt.Sprintf("HEALTHCHECK %+v", *cfg.Healthcheck))
	return nil
}

// dispatchOnbuild handles ONBUILD: the trigger goes to the config, with no
// history entry, as in BuildKit.
func (sr *stageRun) dispatchOnbuild(c *instructions.OnbuildCommand) error {
	sr.s.cfg.Config.OnBuild = append(sr.s.cfg.Config.OnBuild, c.Expression)
	return nil
}

// dispatchArg handles ARG: a --build-arg value first, then the default
// (expanded now), then a global ARG's or a platform ARG's value.
func (sr *stageRun) dispatchArg(c *instructions.ArgCommand) error {
	var strs []string
	for _, kv := range c.Args {
		v, ok := sr.b.opts.BuildArgs[kv.Key]
		switch {
		case ok:
		case kv.Value != nil:
			w, err := sr.expand(c.Location(), *kv.Value)
			if err != nil {
				return err
			}
			v, ok = w, true
		default:
			v, ok = sr.b.plan.MetaArgs.Get(kv.Key)
			if !ok {
				v, ok = plan.PlatformArgs("")[kv.Key]
			}
		}
		if ok {
			val := v
			kv.Value = &val
			sr.env.Set(kv.Key, v)
			strs = append(strs, kv.Key+"="+v)
		} else {
			kv.Value = nil
			strs = append(strs, kv.Key)
		}
		sr.args = append(sr.args, kv)
	}
	sr.metaHistory("ARG " + strings.Join(strs, " "))
	return nil
}
