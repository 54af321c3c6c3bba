package executor

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/snapshot"
)

// mountRoot mounts the rootfs of cfg on cfg.Merged.
func mountRoot(cfg *childConfig) error {
	m := cfg.Rootfs
	m.Empty = cfg.Empty
	if err := m.Apply(cfg.Merged); err != nil {
		return fmt.Errorf("mounting the root: %w", err)
	}
	return nil
}

// mountLayers mounts m.Lowers (layer dirs, top first) on target: read-only,
// or writable with a throwaway tmpfs upper dir mounted on m.Source (writes
// vanish with the sandbox) when m.ReadOnly is false.
func mountLayers(m Mount, target string) error {
	if len(m.Lowers) == 0 {
		return unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755")
	}
	sm := snapshot.Mount{Lower: m.Lowers, ReadOnly: m.ReadOnly}
	if !m.ReadOnly {
		// Source is a scratch dir the caller made (and removes); the tmpfs
		// lives in the sandbox's own mount namespace and dies with it.
		scratch := m.Source
		if scratch == "" {
			return fmt.Errorf("a writable layers mount needs a scratch dir as its source")
		}
		if err := unix.Mount("tmpfs", scratch, "tmpfs", 0, "mode=0700"); err != nil {
			return err
		}
		sm.Upper, sm.Work = scratch+"/upper", scratch+"/work"
		for _, d := range []string{sm.Upper, sm.Work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
		}
	}
	return sm.Apply(target)
}
