package cli

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/snapshot"
)

// envIsolation is the environment variable that chooses the isolation when
// no flag does.
const envIsolation = "STRATA_ISOLATION"

// addIsolationFlag adds --isolation.
func addIsolationFlag(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "isolation", "", "how RUN is isolated: namespaces (mount, PID, IPC and UTS namespaces, pivot_root), chroot (a chroot of a native snapshot, no namespaces nor mounts: for containers that refuse them; the outer container confines RUN) or auto (namespaces; in a user namespace of strata's own where root lacks CAP_SYS_ADMIN; chroot, with the native snapshotter, where user namespaces are refused too) (default $"+envIsolation+", else auto)")
}

// isolation returns the isolation the flag, or else the environment, names.
func isolation(flag string) (executor.Isolation, error) {
	name, from := flag, "--isolation"
	if name == "" {
		name, from = os.Getenv(envIsolation), envIsolation
	}
	iso, err := executor.ParseIsolation(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}
	return iso, nil
}

// addSnapshotterFlag adds --snapshotter, shared by build and run.
func addSnapshotterFlag(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "snapshotter", "", "how steps get their filesystem: overlay, native (copies, for machines where overlayfs cannot be mounted) or auto (native when an overlay mount fails) (default $"+snapshot.EnvSnapshotter+", else overlay; native under chroot isolation)")
}

// snapshotterKind returns the snapshotter the flag, or else the
// environment, names.
func snapshotterKind(flag string) (snapshot.Kind, error) {
	name, from := flag, "--snapshotter"
	if name == "" {
		name, from = os.Getenv(snapshot.EnvSnapshotter), snapshot.EnvSnapshotter
	}
	if name == "" {
		return "", nil // overlay, unless the isolation needs native
	}
	k, err := snapshot.ParseKind(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}
	return k, nil
}
