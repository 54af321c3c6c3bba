package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Snapshotter makes the filesystems of build steps and containers.
type Snapshotter interface {
	// Prepare makes a writable snapshot of lowers (layer dirs, top first;
	// none for an empty root).
	Prepare(ctx context.Context, lowers []string) (*Snapshot, error)
	// View makes a read-only merged view of lowers.
	View(ctx context.Context, lowers []string) (*Snapshot, error)
	// Commit returns a layer dir in overlay upper-dir format holding what
	// changed in s since Prepare. The directory is the caller's to move
	// (into the store); s must still be removed.
	Commit(ctx context.Context, s *Snapshot) (string, error)
	// Remove removes what Prepare or View made, and what Commit left.
	Remove(s *Snapshot) error
}

// Kind names a Snapshotter implementation.
type Kind string

// The snapshotters, as --snapshotter and STRATA_SNAPSHOTTER name them.
const (
	KindOverlay Kind = "overlay"
	KindNative  Kind = "native"
	// KindAuto is overlay where an overlay mount works, native elsewhere.
	KindAuto Kind = "auto"
)

// EnvSnapshotter is the environment variable that chooses the snapshotter
// when no flag does.
const EnvSnapshotter = "STRATA_SNAPSHOTTER"

// ErrUnknownKind is returned by ParseKind for a name it does not know.
var ErrUnknownKind = errors.New("snapshot: unknown snapshotter")

// ParseKind returns the Kind named s; empty means overlay.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case "":
		return KindOverlay, nil
	case KindOverlay, KindNative, KindAuto:
		return k, nil
	}
	return "", fmt.Errorf("%w %q: use overlay, native or auto", ErrUnknownKind, s)
}

// Options configure a snapshotter.
type Options struct {
	// Dir is where snapshots' scratch directories are made: on the same
	// filesystem as the layer dirs (the store's tmp dir), so that a
	// committed layer dir can be renamed into the store.
	Dir string
	// Notice, when non-nil, is told once when auto falls back to native.
	Notice func(msg string)
}

// New returns the snapshotter of kind. For KindAuto it tries an overlay
// mount in Options.Dir and returns Native when that fails.
func New(kind Kind, opts Options) (Snapshotter, error) {
	if opts.Dir == "" {
		return nil, errors.New("snapshot: no directory for snapshots")
	}
	switch kind {
	case "", KindOverlay:
		return &Overlay{dir: opts.Dir}, nil
	case KindNative:
		return &Native{dir: opts.Dir}, nil
	case KindAuto:
		err := probeOverlay(opts.Dir)
		if err == nil {
			return &Overlay{dir: opts.Dir}, nil
		}
		if opts.Notice != nil {
			opts.Notice(fmt.Sprintf("overlayfs cannot be mounted here (%v): using the native snapshotter", err))
		}
		return &Native{dir: opts.Dir}, nil
	}
	return nil, fmt.Errorf("%w %q: use overlay, native or auto", ErrUnknownKind, kind)
}

// Snapshot is one prepared filesystem.
type Snapshot struct {
	dir   string // scratch dir, removed by Remove
	mount Mount
	base  *index // Native: what Prepare copied
	upper string // Native: the committed layer dir, once made
}

// Mount describes how the sandbox mounts the snapshot.
func (s *Snapshot) Mount() Mount { return s.mount }

// Mount says how to mount a snapshot; it crosses into the sandbox process,
// which applies it in its own mount namespace.
type Mount struct {
	// Lower are the layer directories, top first (overlay lowerdir order).
	// None (and no Tree) means an empty root: Empty is mounted instead.
	Lower []string `json:",omitempty"`
	// Upper and Work are an overlay's fresh empty directories on one
	// filesystem; unused when ReadOnly or Tree is set.
	Upper string `json:",omitempty"`
	Work  string `json:",omitempty"`
	// Tree is a native snapshot's plain directory, bind-mounted instead of
	// an overlay of Lower.
	Tree string `json:",omitempty"`
	// ReadOnly mounts the root read-only.
	ReadOnly bool `json:",omitempty"`
	// Volatile mounts the overlay with overlayfs's "volatile" option: its
	// unmount does not sync the upper dir's whole filesystem, which costs
	// as much as writing everything the command wrote. The caller syncs
	// what it keeps, or throws the upper dir away. Kernels without the
	// option (before 5.10) mount without it.
	Volatile bool `json:",omitempty"`
	// Empty is an empty directory, the lower of an empty root and the
	// second lower that hides the whiteouts of a single read-only lower.
	// The sandbox sets it.
	Empty string `json:",omitempty"`
}

// Writable returns the directory in which a writable mount's changes land
// (the overlay's upper dir, or the native tree), or "" when read-only.
func (m Mount) Writable() string {
	switch {
	case m.ReadOnly:
		return ""
	case m.Tree != "":
		return m.Tree
	}
	return m.Upper
}

// Check reports what a writable mount lacks.
func (m Mount) Check() error {
	if m.ReadOnly || m.Tree != "" {
		return nil
	}
	if m.Upper == "" || m.Work == "" {
		return errors.New("snapshot: a writable overlay needs an upper and a work dir")
	}
	return nil
}

// Overlay is the overlayfs snapshotter: the lowers are mounted as they are,
// changes land in a fresh upper dir, which is the committed layer dir.
type Overlay struct {
	dir string
}

var _ Snapshotter = (*Overlay)(nil)

// Prepare makes an upper and a work dir for an overlay of lowers.
func (o *Overlay) Prepare(_ context.Context, lowers []string) (*Snapshot, error) {
	dir, err := os.MkdirTemp(o.dir, "snap-")
	if err != nil {
		return nil, fmt.Errorf("preparing a snapshot: %w", err)
	}
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("preparing a snapshot: %w", err)
		}
	}
	m := Mount{Lower: append([]string(nil), lowers...), Upper: upper, Work: work, Volatile: true}
	return &Snapshot{dir: dir, mount: m}, nil
}

// View describes a read-only overlay of lowers; it makes nothing.
func (o *Overlay) View(_ context.Context, lowers []string) (*Snapshot, error) {
	return &Snapshot{mount: Mount{Lower: append([]string(nil), lowers...), ReadOnly: true}}, nil
}

// Commit returns the upper dir: it is the layer dir.
func (o *Overlay) Commit(_ context.Context, s *Snapshot) (string, error) {
	if s.mount.ReadOnly || s.mount.Upper == "" {
		return "", errors.New("snapshot: committing a read-only view")
	}
	return s.mount.Upper, nil
}

// Remove removes the scratch dir (and the upper dir, unless it was moved).
func (o *Overlay) Remove(s *Snapshot) error { return removeSnapshot(s) }

func removeSnapshot(s *Snapshot) error {
	if s == nil || s.dir == "" {
		return nil
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("removing a snapshot: %w", err)
	}
	return nil
}
