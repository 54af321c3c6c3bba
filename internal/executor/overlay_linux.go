package executor

import (
	"fmt"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
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

// mountLayersSub mounts the file or directory m.Sub of the layers m.Lowers
// on m.Target: the layers are mounted in a tmpfs on the scratch dir
// m.Source (only this sandbox's mount namespace sees it), and the source
// inside them, resolved inside them, is bound on the mount point, which is
// a directory or a file as the source is. It returns the mount point.
func mountLayersSub(st *stubMaker, m Mount) (string, error) {
	scratch := m.Source
	if scratch == "" {
		return "", fmt.Errorf("a layers mount of a sub path needs a scratch dir as its source")
	}
	if err := unix.Mount("tmpfs", scratch, "tmpfs", 0, "mode=0700"); err != nil {
		return "", err
	}
	merged, empty := scratch+"/merged", scratch+"/empty"
	for _, d := range []string{merged, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
	}
	sm := snapshot.Mount{Lower: m.Lowers, ReadOnly: m.ReadOnly, Empty: empty}
	if !m.ReadOnly {
		sm.Upper, sm.Work = scratch+"/upper", scratch+"/work"
		for _, d := range []string{sm.Upper, sm.Work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return "", err
			}
		}
	}
	if err := sm.Apply(merged); err != nil {
		return "", err
	}
	src, err := securejoin.SecureJoin(merged, m.Sub)
	if err != nil {
		return "", fmt.Errorf("resolving source %s: %w", m.Sub, err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", m.Sub, err)
	}
	var p string
	if fi.IsDir() {
		p, err = st.dir(m.Target)
	} else {
		p, err = st.file(m.Target)
	}
	if err != nil {
		return "", err
	}
	if err := unix.Mount(src, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("binding source %s: %w", m.Sub, err)
	}
	return p, nil
}
