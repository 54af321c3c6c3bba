package executor

import (
	"fmt"
	"maps"
	"slices"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// defaultCaps are Docker's default capabilities (moby's
// oci/caps/defaults.go), the only ones a sandboxed command can hold: no
// CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO,
// CAP_NET_ADMIN and the rest. apt, dpkg, useradd and chown need no more.
var defaultCaps = map[string]int{
	"CAP_CHOWN":            unix.CAP_CHOWN,
	"CAP_DAC_OVERRIDE":     unix.CAP_DAC_OVERRIDE,
	"CAP_FSETID":           unix.CAP_FSETID,
	"CAP_FOWNER":           unix.CAP_FOWNER,
	"CAP_MKNOD":            unix.CAP_MKNOD,
	"CAP_NET_RAW":          unix.CAP_NET_RAW,
	"CAP_SETGID":           unix.CAP_SETGID,
	"CAP_SETUID":           unix.CAP_SETUID,
	"CAP_SETFCAP":          unix.CAP_SETFCAP,
	"CAP_SETPCAP":          unix.CAP_SETPCAP,
	"CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
	"CAP_SYS_CHROOT":       unix.CAP_SYS_CHROOT,
	"CAP_KILL":             unix.CAP_KILL,
	"CAP_AUDIT_WRITE":      unix.CAP_AUDIT_WRITE,
}

// defaultCapNames returns the names of defaultCaps, sorted.
func defaultCapNames() []string {
	return slices.Sorted(maps.Keys(defaultCaps))
}

// defaultCapMask returns defaultCaps as a capability bit mask.
func defaultCapMask() uint64 {
	var m uint64
	for _, c := range defaultCaps {
		m |= 1 << c
	}
	return m
}

// allCaps returns every capability in the calling thread's bounding set:
// all that the kernel knows, unless strata itself was started with fewer.
func allCaps() []uintptr {
	var caps []uintptr
	for c := uintptr(0); c < 64; c++ {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, c, 0, 0, 0)
		if err != nil {
			break // EINVAL past the last one
		}
		if in == 1 {
			caps = append(caps, c)
		}
	}
	return caps
}

// confineOptions say how the thread that starts the command is confined.
type confineOptions struct {
	// Insecure keeps every privilege (the insecure security mode).
	Insecure bool
	// Tracer keeps CAP_SYS_PTRACE in the thread's effective and permitted
	// sets, out of its bounding set, for the tracer that runs on it: it
	// reads /proc/PID/cwd and /proc/PID/fd of tracees that run as another
	// user. The command does not get it: exec gives root the bounding set,
	// and a non-root USER loses every capability at setuid.
	Tracer bool
}

// confine applies the confinement of the run's security mode to the calling
// thread, which must stay locked to its goroutine: the command started from
// it inherits the thread's capabilities, no_new_privs bit and seccomp
// filter. The sandbox init's other threads keep their privileges; they run
// no code of the command's, and the init is made non-dumpable, so that the
// command, lacking CAP_SYS_PTRACE, can neither ptrace it nor read its memory
// through /proc/1.
func confine(opts confineOptions) error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("making the sandbox init non-dumpable: %w", err)
	}
	if opts.Insecure {
		return nil
	}
	bounding := defaultCapMask()
	keep := bounding
	if opts.Tracer {
		keep |= 1 << unix.CAP_SYS_PTRACE
	}
	for c := 0; c < 64; c++ {
		if bounding&(1<<c) != 0 {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if err == unix.EINVAL {
			break // past the last capability this kernel knows
		}
		if err != nil {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing the ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(keep), Permitted: uint32(keep)},
		{Effective: uint32(keep >> 32), Permitted: uint32(keep >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("setting the capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	if err := loadSeccomp(); err != nil {
		return err
	}
	return nil
}

// loadSeccomp installs Docker's default seccomp profile on the calling
// thread (a few stacked filters, see seccomp_linux.go), then one more that
// answers ENOSYS to syscall numbers newer than any the profile compiler
// knows, as runc does: a C library probing a new syscall falls back on
// ENOSYS, but not on the profile's EPERM. When two filters return errors,
// the one installed last wins.
func loadSeccomp() error {
	progs, err := defaultSeccompPrograms()
	if err != nil {
		return err
	}
	for _, prog := range progs {
		if err := installFilter(prog); err != nil {
			return fmt.Errorf("loading the seccomp profile: %w", err)
		}
	}
	stub, err := enosysStub()
	if err != nil {
		return err
	}
	if err := installFilter(stub); err != nil {
		return fmt.Errorf("loading the seccomp ENOSYS filter: %w", err)
	}
	return nil
}

// installFilter loads one BPF program with seccomp(2) on the calling thread.
func installFilter(raw []bpf.RawInstruction) error {
	filter := make([]unix.SockFilter, len(raw))
	for i, ins := range raw {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}
