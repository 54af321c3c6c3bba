package cli

import (
	"fmt"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/procspec"
	"github.com/strata-build/strata/internal/solver"
)

// runSettingFlags are the build flags that shape every RUN's sandbox, as docker
// build's.
type runSettingFlags struct {
	addHosts     []string
	shmSize      string
	ulimits      []string
	cgroupParent string
}

func (r *runSettingFlags) add(fl *pflag.FlagSet) {
	fl.StringArrayVar(&r.addHosts, "add-host", nil, "add NAME:IP to the /etc/hosts of every RUN; repeatable")
	fl.StringVar(&r.shmSize, "shm-size", "", "size of /dev/shm in every RUN, such as 128m or 1g (default 64m)")
	fl.StringArrayVar(&r.ulimits, "ulimit", nil, "resource limit of every RUN's command, NAME=SOFT[:HARD] such as nofile=1024:2048; repeatable")
	fl.StringVar(&r.cgroupParent, "cgroup-parent", "", "refused: strata puts RUN steps in no cgroup of their own")
}

// apply checks the flags and sets them in opts.
func (r *runSettingFlags) apply(opts *solver.Options) error {
	if r.cgroupParent != "" {
		return fmt.Errorf("--cgroup-parent %q: strata runs RUN steps in the cgroup of strata itself and makes none of its own; start strata in that cgroup instead (systemd-run --slice, or cgexec)", r.cgroupParent)
	}
	for _, h := range r.addHosts {
		e, err := procspec.ParseExtraHost(h)
		if err != nil {
			return fmt.Errorf("--add-host: %w", err)
		}
		opts.ExtraHosts = append(opts.ExtraHosts, e)
	}
	if r.shmSize != "" {
		n, err := units.RAMInBytes(r.shmSize)
		if err != nil || n <= 0 {
			return fmt.Errorf("--shm-size %q: want a positive size such as 128m or 1g", r.shmSize)
		}
		opts.ShmSize = n
	}
	for _, u := range r.ulimits {
		l, err := units.ParseUlimit(u)
		if err != nil {
			return fmt.Errorf("--ulimit %q: %w (want NAME=SOFT[:HARD], such as nofile=1024:2048)", u, err)
		}
		rl, err := l.GetRlimit()
		if err != nil {
			return fmt.Errorf("--ulimit %q: %w", u, err)
		}
		opts.Rlimits = append(opts.Rlimits, executor.Rlimit{Resource: rl.Type, Soft: rl.Soft, Hard: rl.Hard})
	}
	return nil
}
