package solver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/fscopy"
	"github.com/strata-build/strata/internal/rootless"
)

// The ops the builder runs inside the sandbox's mount namespace.
const (
	opCopy = "strata.copy"
)

func init() {
	executor.Register(opCopy, copyOp)
}

// copyOp performs a COPY, ADD or WORKDIR inside root.
func copyOp(ctx context.Context, root string, raw []byte, _ io.Writer) error {
	var arg copyArg
	if err := json.Unmarshal(raw, &arg); err != nil {
		return fmt.Errorf("decoding the copy: %w", err)
	}
	if arg.Mkdir != "" {
		return fscopy.MkdirAll(root, arg.Mkdir, arg.Owner)
	}
	a := arg.Action
	if len(arg.SrcLowers) > 0 {
		src, err := os.MkdirTemp("", "strata-src-")
		if err != nil {
			return err
		}
		// the mount dies with the sandbox's mount namespace; the mount
		// point is the host's and must go too
		defer os.Remove(src)
		if err := mountReadOnly(arg.SrcLowers, src); err != nil {
			return fmt.Errorf("mounting the source: %w", err)
		}
		defer unix.Unmount(src, unix.MNT_DETACH)
		a.SrcRoot = src
	}
	a.Exclude = arg.Ignore
	return fscopy.Copy(ctx, root, a)
}

// mountReadOnly mounts layer dirs (top first) read-only at target, in the
// calling process's mount namespace.
func mountReadOnly(lowers []string, target string) error {
	if len(lowers) == 1 {
		if err := unix.Mount(lowers[0], target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, "")
	}
	opts := "lowerdir=" + strings.Join(lowers, ":")
	userxattr := rootless.InUserNamespace() // overlay's markers are user.overlay.* there
	if userxattr {
		opts += ",userxattr"
	}
	if len(opts) < 4000 {
		return unix.Mount("overlay", target, "overlay", unix.MS_RDONLY, opts)
	}
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, l := range lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return fmt.Errorf("lowerdir+ %s: %w", l, err)
		}
	}
	if userxattr {
		if err := unix.FsconfigSetFlag(fd, "userxattr"); err != nil {
			return fmt.Errorf("userxattr: %w", err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return err
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	return unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
}
