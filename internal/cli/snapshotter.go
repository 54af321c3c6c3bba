package cli

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/strata-build/strata/internal/snapshot"
)

// addSnapshotterFlag adds --snapshotter, shared by build and run.
func addSnapshotterFlag(fl *pflag.FlagSet, p *string) {
	fl.StringVar(p, "snapshotter", "", "how steps get their filesystem: overlay, native (copies, for machines where overlayfs cannot be mounted) or auto (native when an overlay mount fails) (default $"+snapshot.EnvSnapshotter+", else overlay)")
}

// snapshotterKind returns the snapshotter the flag, or else the
// environment, names.
func snapshotterKind(flag string) (snapshot.Kind, error) {
	name, from := flag, "--snapshotter"
	if name == "" {
		name, from = os.Getenv(snapshot.EnvSnapshotter), snapshot.EnvSnapshotter
	}
	k, err := snapshot.ParseKind(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}
	return k, nil
}
