// Package trace records the paths a tree of processes uses: every path a
// system call of theirs names (open, exec, stat, readlink, access, chdir,
// xattrs, ...), every directory they list and every file they map.
//
// It is a ptrace tracer. The caller starts the first process with
// PTRACE_TRACEME (exec.Cmd's SysProcAttr.Ptrace) and hands its pid to
// [Follow], which follows it and everything it forks, clones and
// executes, stopping each at every system call entry. Path arguments are
// read from the tracee's memory with PTRACE_PEEKDATA; relative ones are
// resolved against /proc/PID/cwd, or the directory fd's /proc/PID/fd link.
//
// Why ptrace: fanotify reports opens and execs but not stat, readlink,
// access or a directory listed without being opened anew, and it needs
// CAP_SYS_ADMIN in the initial user namespace, so it fails rootless.
// seccomp user notification sees every system call too, but the filter
// must be installed by the traced process itself before it execs, and its
// fd handed back over a socket. ptrace misses no system call, needs no
// privilege over one's own children, and works inside a user namespace.
//
// Paths the kernel opens on its own are not system calls of the tracee
// and are not seen: the ELF interpreter of an executed binary and the
// interpreter of a #! script. Callers that keep files must add those from
// the executables they keep (internal/slim does).
//
// The system call table is the amd64 one; elsewhere [Follow] returns
// [ErrUnsupported].
package trace
