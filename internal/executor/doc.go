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
//     the hostname, creates and enters the working directory, confines
//     itself (see below), and starts the command as its own child with the
//     requested uid, gid and groups. The
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
// [Run] confines the command as Docker confines a container by default
// ([SecuritySandbox]); BuildKit's RUN --security=insecure and docker run
// --privileged map to [SecurityInsecure], which keeps the namespaces and
// lifts the rest. The sandbox init sets up the mounts with every privilege,
// then confines the thread that starts the command, which inherits:
//
//   - capabilities: Docker's default set (CHOWN, DAC_OVERRIDE, FSETID,
//     FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP,
//     NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE) in the bounding,
//     permitted and effective sets, the inheritable and ambient sets empty;
//     a non-root USER has none;
//   - no_new_privs, so setuid binaries and file capabilities grant nothing
//     (Docker does not set it by default: sudo from a non-root USER fails);
//   - Docker's default seccomp profile (github.com/moby/profiles/seccomp,
//     compiled with github.com/elastic/go-seccomp-bpf, no cgo; see
//     seccomp_linux.go for how it differs), which refuses mount, unshare,
//     module loading, kexec, keyctl, bpf and the like with EPERM;
//   - runc's masked paths (/proc/kcore, /proc/keys, /proc/timer_list,
//     /sys/firmware...) and read-only paths (/proc/sys, /proc/bus,
//     /proc/sysrq-trigger...), a read-only /sys, and a /dev with only null,
//     zero, full, random, urandom, tty, a private devpts and shm;
//   - nodev on the root and every extra mount: with no device cgroup, this
//     is what stops a node made with CAP_MKNOD from opening a host disk.
//
// The init itself is made non-dumpable, so that the command (without
// CAP_SYS_PTRACE) cannot ptrace it or read its memory: its other threads
// keep every privilege.
//
// Gaps that remain: no user namespace unless strata itself runs in one
// (rootless), so root in the sandbox is root on the host's files it can
// reach; no cgroup, so no memory, CPU or PID limits; no AppArmor or SELinux
// profile; with network "host" the step shares the host's network
// namespace; the seccomp filter covers the native architecture only (32-bit
// system calls on amd64 are refused, where Docker allows them).
//
// Ops are registered with [Register] in a package-level table: this is the
// package's only global state, and it is written only from init functions so
// that the re-executed child knows the same ops as the parent.
package executor
