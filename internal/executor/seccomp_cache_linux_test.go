package executor

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	seccompbpf "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// constAllow reports whether the kernel's seccomp action cache (Linux 5.11,
// kernel/seccomp.c seccomp_is_const_allow) proves that raw allows syscall nr
// of architecture auditArch whatever its arguments: it emulates the filter
// with only the number and the architecture known, and gives up at any
// other load. A syscall that every filter of the stack const-allows skips
// the filters altogether; any other one runs all of them, on every call.
func constAllow(raw []bpf.RawInstruction, auditArch, nr uint32) (bool, error) {
	const nrOffset, archOffset = 0, 4 // in struct seccomp_data
	var a uint32
	for pc := 0; pc < len(raw); pc++ {
		ins := raw[pc]
		switch ins.Op {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			switch ins.K {
			case nrOffset:
				a = nr
			case archOffset:
				a = auditArch
			default:
				return false, nil
			}
		case unix.BPF_RET | unix.BPF_K:
			return ins.K == unix.SECCOMP_RET_ALLOW, nil
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(ins.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K,
			unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var taken bool
			switch ins.Op &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				taken = a == ins.K
			case unix.BPF_JGE:
				taken = a >= ins.K
			case unix.BPF_JGT:
				taken = a > ins.K
			case unix.BPF_JSET:
				taken = a&ins.K != 0
			}
			if taken {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= ins.K
		default:
			return false, nil
		}
	}
	return false, fmt.Errorf("filter runs past its end")
}

// TestSeccompFiltersCacheable checks that the kernel caches the answer of
// the sandbox's filter stack for every syscall that Docker's profile allows
// whatever the arguments. A RUN makes millions of read and write calls (the
// bigtree benchmark 2.4 million): cached, they never enter the filters;
// uncached, each write walks about 330 BPF instructions, measured at 0.5 µs
// more per call (BenchmarkSeccompWrite). A filter that loaded an argument
// before dispatching on the syscall number would lose the cache without
// changing a single decision, so only this test would notice.
func TestSeccompFiltersCacheable(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	policies, err := defaultSeccompPolicies()
	if err != nil {
		t.Fatal(err)
	}
	// The profile's unconditional allows: the main filter's, less those a
	// later filter refuses on some arguments.
	var conditional []string
	for _, p := range policies[1:] {
		for _, g := range p.Syscalls {
			for _, c := range g.NamesWithCondtions {
				conditional = append(conditional, c.Name)
			}
		}
	}
	var want []string
	for _, g := range policies[0].Syscalls {
		if g.Action != seccompbpf.ActionAllow {
			continue
		}
		for _, name := range g.Names {
			if !slices.Contains(conditional, name) {
				want = append(want, name)
			}
		}
	}
	progs, err := defaultSeccompPrograms()
	if err != nil {
		t.Fatal(err)
	}
	stub, err := enosysStub()
	if err != nil {
		t.Fatal(err)
	}
	progs = append(progs, stub)
	var got []string
	for name, nr := range info.SyscallNames {
		cached := true
		for _, prog := range progs {
			ok, err := constAllow(prog, uint32(info.ID), uint32(nr))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			cached = cached && ok
		}
		if cached {
			got = append(got, name)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	want = slices.Compact(want)
	if len(want) < 300 {
		t.Fatalf("only %d unconditionally allowed syscalls in the profile; want Docker's 300 or more", len(want))
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("syscalls whose answer the kernel caches (-got +want):\n%s", diff)
	}
}

// BenchmarkSeccompWrite measures one write(2) to /dev/null from a thread
// under no filter, under a one-instruction allow-all filter (the fixed cost
// of being filtered at all), under the sandbox's stack, and under the
// sandbox's stack made uncacheable by one more filter that loads an
// argument (what every call would cost without the kernel's cache).
func BenchmarkSeccompWrite(b *testing.B) {
	noNewPrivs := func() error { return unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }
	allowAll := []bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
	loadArg := []bpf.RawInstruction{{Op: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 16}, allowAll[0]}
	cases := []struct {
		name    string
		filters func() error
	}{
		{"none", func() error { return nil }},
		{"allow-all", func() error { return installFilter(allowAll) }},
		{"sandbox", loadSeccomp},
		{"sandbox-uncached", func() error {
			if err := loadSeccomp(); err != nil {
				return err
			}
			return installFilter(loadArg)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			errc := make(chan error, 1)
			go func() {
				// A filter cannot be removed: the locked thread exits with
				// the goroutine, and its filters with it.
				runtime.LockOSThread()
				errc <- writeUnder(b, noNewPrivs, c.filters)
			}()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// writeUnder installs the filters on the calling thread and times writes.
func writeUnder(b *testing.B, setup ...func() error) error {
	for _, f := range setup {
		if err := f(); err != nil {
			return fmt.Errorf("installing the filters: %w", err)
		}
	}
	fd, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	buf := []byte{0}
	for b.Loop() {
		if _, err := unix.Write(fd, buf); err != nil {
			return fmt.Errorf("writing: %w", err)
		}
	}
	return nil
}
