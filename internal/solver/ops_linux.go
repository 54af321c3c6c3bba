package solver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/executor"
	"github.com/strata-build/strata/internal/fscopy"
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
	if arg.Src != nil && arg.Src.Tree != "" {
		// a native view is a private copy: read in place, no mount needed
		// (none can be made in chroot isolation)
		a.SrcRoot = arg.Src.Tree
	} else if arg.Src != nil {
		src, err := os.MkdirTemp("", "strata-src-")
		if err != nil {
			return err
		}
		// the mount dies with the sandbox's mount namespace; the mount
		// point is the host's and must go too
		defer os.Remove(src)
		if err := arg.Src.Apply(src); err != nil {
			return fmt.Errorf("mounting the source: %w", err)
		}
		defer unix.Unmount(src, unix.MNT_DETACH)
		a.SrcRoot = src
	}
	a.Exclude = arg.Ignore
	return fscopy.Copy(ctx, root, a)
}
