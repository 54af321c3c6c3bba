package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/strata-build/strata/internal/snapshot"
)

// ErrUnsupported is returned by Run and Do on systems other than Linux.
var ErrUnsupported = errors.New("executor: sandbox not supported on this system")

// Isolation names how a sandbox is isolated from the machine it runs on.
type Isolation string

// The isolations, as --isolation names them.
const (
	// IsolationNamespaces runs a command in new mount, PID, IPC and UTS
	// namespaces (and a network one for network none), pivoted into its
	// root, with /proc, /dev and /sys of its own. It needs CAP_SYS_ADMIN
	// (root, or a user namespace of strata's own).
	IsolationNamespaces Isolation = "namespaces"
	// IsolationChroot runs a command chrooted into a native snapshot's
	// tree, in the caller's own namespaces, with the caller's
	// capabilities cut to Docker's default set: no mount is made. It is
	// for containers that refuse namespaces and mounts (docker's
	// defaults); the outer container, not strata, confines the command.
	IsolationChroot Isolation = "chroot"
	// IsolationAuto is namespaces where a sandbox's namespaces can be
	// made, chroot elsewhere (see Probe).
	IsolationAuto Isolation = "auto"
)

// ErrUnknownIsolation is returned by ParseIsolation for a name it does not
// know.
var ErrUnknownIsolation = errors.New("executor: unknown isolation")

// ParseIsolation returns the Isolation named s; empty means auto.
func ParseIsolation(s string) (Isolation, error) {
	switch i := Isolation(s); i {
	case "":
		return IsolationAuto, nil
	case IsolationAuto, IsolationNamespaces, IsolationChroot:
		return i, nil
	}
	return "", fmt.Errorf("%w %q: use auto, namespaces or chroot", ErrUnknownIsolation, s)
}

// Rootfs is the sandbox's root filesystem: a snapshot's mount (an overlay
// of layer dirs, or a native snapshot's tree), made by internal/snapshot.
type Rootfs = snapshot.Mount

// Mount is an extra mount made in the sandbox, such as RUN --mount.
type Mount struct {
	// Type is "bind", "tmpfs" or "layers" (an overlay of Lowers: another
	// stage's or image's files, copied nowhere).
	Type string
	// Source is the host path of a bind mount; for a writable layers mount,
	// an empty scratch dir that the caller removes afterwards.
	Source string
	// Lowers are the layer dirs of a layers mount, top first.
	Lowers []string
	// Sub, for a layers mount, is the path inside the layers (resolved
	// inside them) of the directory or file mounted on Target, as BuildKit's
	// bind mount source=; empty or "/" mounts them whole. A layers mount
	// with a Sub needs a scratch dir in Source, read-only or not.
	Sub string
	// Target is the absolute path inside the root.
	Target string
	// ReadOnly mounts it read-only.
	ReadOnly bool
	// Options are mount options: "ro", "nosuid", "nodev" and "noexec" are
	// flags; the rest, such as "size=64m" or "mode=1777", is passed as data
	// to tmpfs.
	Options []string
}

// RunSpec describes one process run in the sandbox.
type RunSpec struct {
	Rootfs Rootfs
	// Args is the argv; Args[0] without a slash is looked up in the PATH of
	// Env inside the root.
	Args []string
	Env  []string
	// Dir is the working directory inside the root, created (mode 0755, owned
	// by root) when missing. Empty means "/".
	Dir      string
	UID, GID int
	// Groups are the supplementary groups.
	Groups []int
	// Network is "host" (the default when empty) or "none" (a new network
	// namespace with only lo, up).
	Network string
	// Hostname is set in the sandbox's UTS namespace; empty means
	// procspec.Hostname.
	Hostname string
	// Mounts are applied after the standard mounts.
	Mounts []Mount
	// Stdin, Stdout and Stderr connect the command; nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// HostsFile and ResolvConf are host files bind-mounted onto /etc/hosts
	// and /etc/resolv.conf when not empty.
	HostsFile, ResolvConf string
	// Security is the confinement of the command: SecuritySandbox (the
	// default when empty) or SecurityInsecure.
	Security string
	// Isolation is IsolationNamespaces (the default when empty) or
	// IsolationChroot, which needs a native snapshot (Rootfs.Tree), cannot
	// make Mounts, network none or a read-only root, and makes the few
	// /dev nodes it needs in the tree (removed afterwards).
	Isolation Isolation
	// Signals, when not nil, are forwarded to the sandbox's init, which
	// passes them on to the command, as docker run's --sig-proxy does.
	Signals <-chan os.Signal
	// ShmSize is the size in bytes of the tmpfs on /dev/shm; 0 means 64
	// MiB, Docker's default.
	ShmSize int64
	// Rlimits are set on the command before it starts (--ulimit); the
	// others are the sandbox's own.
	Rlimits []Rlimit
	// ReadOnlyRoot mounts the root read-only once the sandbox's own
	// mounts are made (docker run --read-only); the mounts on it stay
	// as they are.
	ReadOnlyRoot bool
	// Tty makes the command's stdin, a terminal, its controlling terminal
	// (docker run -t), so that the terminal's Ctrl-C reaches it.
	Tty bool
}

// DefaultShmSize is the size of /dev/shm when RunSpec.ShmSize is 0, as in
// Docker and BuildKit.
const DefaultShmSize = 64 << 20

// Rlimit is a resource limit set on a command (setrlimit).
type Rlimit struct {
	// Resource is the RLIMIT_ number, such as 7 (RLIMIT_NOFILE) on Linux.
	Resource int
	// Soft and Hard are the limits; ^uint64(0) is unlimited.
	Soft, Hard uint64
}

// The security modes of a RunSpec, named as BuildKit's RUN --security.
const (
	// SecuritySandbox confines the command as Docker confines a container by
	// default: Docker's default capabilities (no CAP_SYS_ADMIN,
	// CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_NET_ADMIN...) in every set, an
	// empty inheritable and ambient set, no_new_privs, Docker's default
	// seccomp profile, masked and read-only /proc paths, a read-only /sys,
	// and mounts on which device nodes cannot be opened (nodev) but for the
	// few in /dev.
	SecuritySandbox = "sandbox"
	// SecurityInsecure lifts all of that, as BuildKit's
	// RUN --security=insecure (docker run --privileged) does: every
	// capability, no seccomp filter, no no_new_privs, no masked or
	// read-only paths, a writable /sys and /proc/sys, device nodes usable.
	// The namespaces stay.
	SecurityInsecure = "insecure"
)

// Op is a function run by Do inside the sandbox's mount namespace, with the
// overlay mounted at root. It is not confined to root (there is no
// pivot_root, so it can read host paths such as the build context) and must
// resolve paths inside root safely itself. arg is the caller's argument, and
// stdout is the sandbox's standard output, for ops that stream data out.
type Op func(ctx context.Context, root string, arg []byte, stdout io.Writer) error

// DoSpec describes one op run by Do.
type DoSpec struct {
	Rootfs Rootfs
	// Op is the name under which the op was registered.
	Op string
	// Arg is passed to the op as is (JSON, by convention).
	Arg []byte
	// Stdout receives what the op writes to its stdout, Stderr what it writes
	// to os.Stderr; nil discards.
	Stdout, Stderr io.Writer
	// Isolation is IsolationNamespaces (the default when empty) or
	// IsolationChroot, in which the op runs in the caller's namespaces with
	// root the native snapshot's tree (Rootfs.Tree), mounted nowhere.
	Isolation Isolation
}

var ops = struct {
	sync.Mutex
	m map[string]Op
}{m: map[string]Op{}}

// Register adds op under name. Call it from a package init function, so that
// the re-executed sandbox knows the op too. It panics when name is taken.
func Register(name string, op Op) {
	ops.Lock()
	defer ops.Unlock()
	if _, ok := ops.m[name]; ok {
		panic(fmt.Sprintf("executor: op %q registered twice", name))
	}
	ops.m[name] = op
}

func lookupOp(name string) (Op, bool) {
	ops.Lock()
	defer ops.Unlock()
	op, ok := ops.m[name]
	return op, ok
}

// TraceSpec asks for a traced run (see Trace).
type TraceSpec struct {
	// HTTP, when set, is requested from inside the sandbox's network
	// namespace once the command listens; then the command gets SIGTERM.
	HTTP *HTTPProbe
	// Wait is how long the HTTP probe waits for the command to answer;
	// zero means 30 seconds.
	Wait time.Duration
}

// HTTPProbe is a GET request sent to the command on 127.0.0.1.
type HTTPProbe struct {
	Port int
	// Path is the request's path, from "/".
	Path string
}

// HTTPResponse is the command's answer to an HTTPProbe.
type HTTPResponse struct {
	Status int
	Body   []byte
	// Error says why there is no answer.
	Error string `json:",omitempty"`
}

// Traced is what Trace saw.
type Traced struct {
	// Exit is the command's exit status (128+signal when a signal killed
	// it).
	Exit int
	// Paths are the absolute paths inside the root that the command's
	// processes named, listed or mapped (see internal/trace), and the
	// command itself, sorted.
	Paths []string
	// HTTP is the answer to the HTTP probe, when there was one.
	HTTP *HTTPResponse
}
