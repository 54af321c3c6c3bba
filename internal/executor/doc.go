// Package executor runs a Dockerfile RUN, and the file operations of COPY,
// ADD and WORKDIR, in a sandbox built into the strata binary.
//
// # How it works
//
// There is no runc and no daemon: the sandbox is the strata binary itself,
// re-executed through /proc/self/exe with STRATA_SANDBOX set in its
// environment. [Init], called first in main, notices the variable, runs the
// sandbox side and exits; in the normal CLI it returns at once.
//
// The parent starts the child in new mount, PID, IPC and UTS namespaces (and a
// new network namespace when the network is "none"), with Pdeathsig SIGKILL
// and its own process group. The configuration travels as JSON on an extra
// pipe; results (the mount point stubs created, the exit status, an op's
// error) come back as JSON on a second one.
//
// The child makes every mount private, mounts the overlay (lower layers, upper
// and work dirs) on a fresh directory next to the upper dir, and then:
//
//   - for [Run]: mounts /proc, a tmpfs /dev with the usual device nodes bound
//     from the host, devpts and /dev/shm, a read-only /sys, the hosts and
//     resolv.conf files and the extra mounts; masks the dangerous /proc files
//     as runc does; pivot_roots into the overlay, detaches the old root, sets
//     the hostname, creates and enters the working directory, and starts the
//     command as its own child with the requested uid, gid and groups. The
//     sandbox init stays PID 1: it reaps orphans, forwards SIGTERM, SIGINT,
//     SIGHUP and SIGQUIT, and exits with the command's status (128+signal
//     when the command was killed by a signal), which kills whatever the
//     command left behind.
//   - for [Do]: calls a registered [Op] with the path of the mounted root. The
//     op does not run under pivot_root: it sees the host filesystem (so it can
//     read the build context directly) and must resolve paths inside the root
//     itself, with github.com/cyphar/filepath-securejoin.
//
// All mounts live in the child's mount namespace only, so they vanish with it,
// whether it exits, is killed when the context is cancelled, or is killed
// because strata itself died. The host never sees them.
//
// The mount points the child had to create in the upper dir (/proc, /dev,
// /sys, /etc/hosts, /etc/resolv.conf, /etc when missing, the targets of extra
// mounts) are removed from the upper dir after [Run] when they are still
// empty, so they never end up in a layer.
//
// # Security model and its gaps
//
// The sandbox isolates a build step from the host's filesystem, processes,
// hostname and (with network "none") network, and guarantees cleanup. It is
// not yet a security boundary against a hostile Dockerfile:
//
//   - the command runs as real root (uid 0 of the host user namespace) when
//     USER is root, with the full capability set: no capabilities are dropped
//     and no user namespace is used, so root inside can undo the masks,
//     unmount things, load modules or reach devices;
//   - no seccomp filter, no AppArmor or SELinux profile, and no
//     no_new_privs;
//   - no cgroup: no memory, CPU or PID limits;
//   - with network "host" the step shares the host's network namespace.
//
// A later change hardens this (drop capabilities to Docker's default set, a
// seccomp profile, no_new_privs, optional user namespaces for rootless use).
//
// Ops are registered with [Register] in a package-level table: this is the
// package's only global state, and it is written only from init functions so
// that the re-executed child knows the same ops as the parent.
package executor
