//go:build linux && amd64

package trace

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// options make every new process a tracee, report execs, and mark system
// call stops (SIGTRAP|0x80) apart from real SIGTRAPs.
const options = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEFORK |
	unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL

// syscallInfo is struct ptrace_syscall_info, entry variant.
type syscallInfo struct {
	Op   uint8
	_    uint8
	_    uint16
	Arch uint32
	IP   uint64
	SP   uint64
	Nr   uint64
	Args [6]uint64
	_    [16]byte // the rest of the union
}

// tracer is the state of one Follow.
type tracer struct {
	paths map[string]bool
	known map[int]bool // tracees seen at least once
	err   error        // the first path that could not be resolved
}

// Follow traces pid, a child of the calling thread started with
// PTRACE_TRACEME that has not yet been waited for, and every process it
// starts, until pid exits; it reaps every other child on the way (a
// sandbox init's orphans). Call it from the thread that started pid,
// locked to its goroutine: ptrace answers only that thread. The error
// reports a path that could not be resolved (the trace would be
// incomplete) or a ptrace failure; the exit status is set either way when
// pid exited.
func Follow(pid int) (Result, error) {
	t := &tracer{paths: map[string]bool{}, known: map[int]bool{pid: true}}
	var ws unix.WaitStatus
	if _, err := wait(pid, &ws); err != nil {
		return Result{Exit: -1}, fmt.Errorf("trace: waiting for the first stop: %w", err)
	}
	if !ws.Stopped() {
		return Result{Exit: exitOf(ws)}, fmt.Errorf("trace: process %d did not stop at its exec", pid)
	}
	if err := unix.PtraceSetOptions(pid, options); err != nil {
		return Result{Exit: -1}, fmt.Errorf("trace: setting ptrace options: %w", err)
	}
	if err := unix.PtraceSyscall(pid, 0); err != nil {
		return Result{Exit: -1}, fmt.Errorf("trace: resuming %d: %w", pid, err)
	}
	for {
		got, err := wait(-1, &ws)
		if err != nil {
			return t.result(-1), fmt.Errorf("trace: waiting: %w", err)
		}
		if ws.Exited() || ws.Signaled() {
			delete(t.known, got)
			if got == pid {
				return t.result(exitOf(ws)), t.err
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		t.stopped(got, ws)
	}
}

// stopped handles one ptrace stop of tid and resumes it.
func (t *tracer) stopped(tid int, ws unix.WaitStatus) {
	sig := ws.StopSignal()
	inject := 0
	switch {
	case sig == unix.SIGTRAP|0x80:
		t.syscall(tid)
	case sig == unix.SIGTRAP && ws.TrapCause() > 0:
		// fork, clone, exec events: the new process reports itself.
	case sig == unix.SIGSTOP && !t.known[tid]:
		// A new tracee's first stop.
	default:
		inject = int(sig)
	}
	t.known[tid] = true
	// ESRCH: it was killed meanwhile; its exit comes next.
	unix.PtraceSyscall(tid, inject)
}

// syscall records the paths of the system call tid is entering.
func (t *tracer) syscall(tid int) {
	var info syscallInfo
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GET_SYSCALL_INFO, uintptr(tid),
		unsafe.Sizeof(info), uintptr(unsafe.Pointer(&info)), 0, 0)
	if errno != 0 {
		t.fail(fmt.Errorf("trace: reading the system call of %d: %w", tid, errno))
		return
	}
	if info.Op != unix.PTRACE_SYSCALL_INFO_ENTRY {
		return
	}
	if info.Arch != arch {
		// The sandbox's seccomp filter refuses other architectures'
		// calls; without it, they are not understood: say so.
		t.fail(fmt.Errorf("trace: process %d made a system call of another architecture (%#x): its paths are unknown", tid, info.Arch))
		return
	}
	c, ok := calls[info.Nr]
	if !ok {
		return
	}
	for _, a := range c.paths {
		t.pathArg(tid, &info, a)
	}
	if c.fd >= 0 {
		if info.Nr == unix.SYS_MMAP && info.Args[3]&unix.MAP_ANONYMOUS != 0 {
			return
		}
		t.fdPath(tid, int(int32(info.Args[c.fd])))
	}
}

// pathArg records one path argument.
func (t *tracer) pathArg(tid int, info *syscallInfo, a pathArg) {
	addr := uintptr(info.Args[a.path])
	if addr == 0 {
		if a.dirfd != atCwd {
			t.fdPath(tid, int(int32(info.Args[a.dirfd]))) // utimensat(fd, NULL, ...)
		}
		return
	}
	s, err := readString(tid, addr)
	if err != nil {
		return // a bad pointer: the call fails with EFAULT and names nothing
	}
	dirfd := unix.AT_FDCWD
	if a.dirfd != atCwd {
		dirfd = int(int32(info.Args[a.dirfd]))
	}
	switch {
	case path.IsAbs(s):
		t.add(s)
	case s == "":
		if dirfd != unix.AT_FDCWD {
			t.fdPath(tid, dirfd) // AT_EMPTY_PATH
		}
	default:
		base, err := t.base(tid, dirfd)
		if err != nil {
			t.fail(err)
			return
		}
		if base != "" {
			t.add(path.Join(base, s))
		}
	}
}

// base returns the directory a relative path of tid starts from: its
// working directory, or dirfd's. It is empty for an fd that is no file.
func (t *tracer) base(tid, dirfd int) (string, error) {
	link := "/proc/" + strconv.Itoa(tid) + "/cwd"
	if dirfd != unix.AT_FDCWD {
		link = "/proc/" + strconv.Itoa(tid) + "/fd/" + strconv.Itoa(dirfd)
	}
	target, err := os.Readlink(link)
	if errors.Is(err, os.ErrNotExist) && dirfd != unix.AT_FDCWD {
		return "", nil // not an open fd: the call fails with EBADF
	}
	if errors.Is(err, os.ErrPermission) {
		return "", fmt.Errorf("trace: resolving a relative path of process %d: %w: it runs as a user other than the tracer's, and the tracer lacks CAP_SYS_PTRACE", tid, err)
	}
	if err != nil {
		return "", fmt.Errorf("trace: resolving a relative path of process %d: %w", tid, err)
	}
	if !path.IsAbs(target) {
		return "", nil // pipe:[...], socket:[...], anon_inode:...
	}
	return target, nil
}

// fdPath records the file fd of tid is open on.
func (t *tracer) fdPath(tid, fd int) {
	if fd < 0 {
		return
	}
	p, err := t.base(tid, fd)
	if err != nil {
		t.fail(err)
		return
	}
	if p != "" {
		t.add(p)
	}
}

func (t *tracer) add(p string) { t.paths[path.Clean(p)] = true }

func (t *tracer) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

func (t *tracer) result(exit int) Result {
	r := Result{Exit: exit, Paths: make([]string, 0, len(t.paths))}
	for p := range t.paths {
		r.Paths = append(r.Paths, p)
	}
	sort.Strings(r.Paths)
	return r
}

// readString reads a NUL-terminated string of at most PATH_MAX bytes at
// addr in tid's memory, a word at a time: PEEKDATA needs nothing but being
// the tracer, where /proc/PID/mem needs ptrace access rights.
func readString(tid int, addr uintptr) (string, error) {
	var out []byte
	word := make([]byte, 8)
	for len(out) < unix.PathMax {
		n, err := unix.PtracePeekData(tid, addr, word)
		if err != nil {
			return "", err
		}
		for i := 0; i < n; i++ {
			if word[i] == 0 {
				return string(out), nil
			}
			out = append(out, word[i])
		}
		addr += uintptr(n)
	}
	return "", errors.New("trace: path longer than PATH_MAX")
}

// wait waits for pid (-1: any child, threads included).
func wait(pid int, ws *unix.WaitStatus) (int, error) {
	for {
		got, err := unix.Wait4(pid, ws, unix.WALL, nil)
		if !errors.Is(err, unix.EINTR) {
			return got, err
		}
	}
}

// exitOf is the exit status of a process that ended.
func exitOf(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
