package executor

import (
	"fmt"
	"slices"

	seccompbpf "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The seccomp filter of a sandboxed RUN is Docker's default profile, taken
// as data from github.com/moby/profiles/seccomp (the package dockerd itself
// uses) and resolved for Docker's default capabilities and this kernel, then
// compiled to BPF by github.com/elastic/go-seccomp-bpf (pure Go, no
// libseccomp, so the binary stays buildable with CGO_ENABLED=0).
//
// go-seccomp-bpf v1.6.0 does not reload the syscall number after a failed
// argument check, so a policy in which a conditional rule is followed by any
// other rule compares arguments with syscall numbers. The profile is
// therefore compiled to a stack of filters, each free of that case (the
// kernel runs every filter and the most restrictive answer wins):
//
//   - one with the unconditional rules, which allows the syscalls that have
//     only argument-checked rules (socket, personality, clone);
//   - one per such syscall, which denies it (EPERM) when no rule's check
//     holds: the negation of "arg == a || arg == b" is one rule
//     "arg != a && arg != b", so each filter has a single conditional rule.
//
// The other differences from Docker's filter come from the compiler: it
// filters the native architecture only, so on amd64 the 32-bit i386 system
// calls (int 0x80) get EPERM and the x32 ones ENOSYS, where Docker allows
// the profile's syscalls on both; and a syscall name the compiler's table
// does not know (one newer than its table, or another architecture's) is
// left out, and answered by the ENOSYS filter.

// defaultSeccompPolicies returns Docker's default profile for a process with
// Docker's default capabilities, as go-seccomp-bpf policies for the native
// architecture, to be installed in order.
func defaultSeccompPolicies() ([]*seccompbpf.Policy, error) {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: defaultCapNames()}}}
	prof, err := mobyseccomp.GetDefaultProfile(spec)
	if err != nil {
		return nil, fmt.Errorf("resolving the default seccomp profile: %w", err)
	}
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("compiling the seccomp profile: %w", err)
	}
	return translateProfile(prof, info)
}

// translateProfile turns a resolved OCI seccomp profile into policies for
// the architecture info: the unconditional one first, then one per syscall
// whose rules check arguments.
func translateProfile(prof *specs.LinuxSeccomp, info *arch.Info) ([]*seccompbpf.Policy, error) {
	def, err := seccompAction(prof.DefaultAction, prof.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile default action: %w", err)
	}
	if def != seccompbpf.ActionErrno {
		// go-seccomp-bpf takes only its named actions as the default; EPERM
		// is what ActionErrno returns.
		return nil, fmt.Errorf("seccomp profile default action %s: only ERRNO(EPERM) is supported", prof.DefaultAction)
	}
	var (
		groups  []seccompbpf.SyscallGroup // unconditional, one per action
		uncond  = map[string]bool{}
		condOf  = map[string][]seccompbpf.Condition{} // syscall → the rules' checks, any of which allows it
		condSeq []string
	)
	for _, sc := range prof.Syscalls {
		action, err := seccompAction(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp rule for %v: %w", sc.Names, err)
		}
		cond, err := seccompCondition(sc.Args)
		if err != nil {
			return nil, fmt.Errorf("seccomp rule for %v: %w", sc.Names, err)
		}
		if cond != nil && action != seccompbpf.ActionAllow {
			return nil, fmt.Errorf("seccomp rule for %v: an argument check on a rule that does not allow is not supported", sc.Names)
		}
		for _, name := range sc.Names {
			if _, ok := info.SyscallNames[name]; !ok {
				continue // another architecture's, or newer than the table
			}
			if cond != nil {
				if _, seen := condOf[name]; !seen {
					condSeq = append(condSeq, name)
				}
				condOf[name] = append(condOf[name], *cond)
				continue
			}
			if uncond[name] {
				continue // the first rule decides, as in runc
			}
			uncond[name] = true
			i := slices.IndexFunc(groups, func(g seccompbpf.SyscallGroup) bool { return g.Action == action })
			if i < 0 {
				groups = append(groups, seccompbpf.SyscallGroup{Action: action})
				i = len(groups) - 1
			}
			groups[i].Names = append(groups[i].Names, name)
		}
	}
	var denies []*seccompbpf.Policy
	for _, name := range condSeq {
		if uncond[name] {
			continue // allowed, or refused, whatever its arguments
		}
		// The main filter lets it through; this one refuses it unless one
		// of the checks holds.
		i := slices.IndexFunc(groups, func(g seccompbpf.SyscallGroup) bool { return g.Action == seccompbpf.ActionAllow })
		if i < 0 {
			groups = append(groups, seccompbpf.SyscallGroup{Action: seccompbpf.ActionAllow})
			i = len(groups) - 1
		}
		groups[i].Names = append(groups[i].Names, name)
		var none seccompbpf.ArgumentConditions
		for _, c := range condOf[name] {
			none = append(none, negate(c))
		}
		denies = append(denies, &seccompbpf.Policy{
			DefaultAction: seccompbpf.ActionAllow,
			Syscalls: []seccompbpf.SyscallGroup{{
				Action:             seccompbpf.ActionErrno,
				NamesWithCondtions: []seccompbpf.NameWithConditions{{Name: name, Conditions: none}},
			}},
		})
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("seccomp profile has no syscall of architecture %s", info.Name)
	}
	return append([]*seccompbpf.Policy{{DefaultAction: seccompbpf.ActionErrno, Syscalls: groups}}, denies...), nil
}

// negate returns the check that holds exactly when c does not.
func negate(c seccompbpf.Condition) seccompbpf.Condition {
	c.Operation = map[seccompbpf.Operation]seccompbpf.Operation{
		seccompbpf.Equal:          seccompbpf.NotEqual,
		seccompbpf.NotEqual:       seccompbpf.Equal,
		seccompbpf.LessThan:       seccompbpf.GreaterOrEqual,
		seccompbpf.GreaterOrEqual: seccompbpf.LessThan,
		seccompbpf.LessOrEqual:    seccompbpf.GreaterThan,
		seccompbpf.GreaterThan:    seccompbpf.LessOrEqual,
		seccompbpf.BitsNotSet:     seccompbpf.BitsSet,
		seccompbpf.BitsSet:        seccompbpf.BitsNotSet,
	}[c.Operation]
	return c
}

// seccompAction maps an OCI action; errnoRet nil means EPERM.
func seccompAction(a specs.LinuxSeccompAction, errnoRet *uint) (seccompbpf.Action, error) {
	switch a {
	case specs.ActAllow:
		return seccompbpf.ActionAllow, nil
	case specs.ActErrno:
		if errnoRet == nil || *errnoRet == uint(unix.EPERM) {
			return seccompbpf.ActionErrno, nil
		}
		if *errnoRet > 0xffff {
			return 0, fmt.Errorf("errno %d out of range", *errnoRet)
		}
		// Any data in the low 16 bits of SECCOMP_RET_ERRNO is the errno.
		return seccompbpf.ActionErrno | seccompbpf.Action(*errnoRet), nil
	}
	return 0, fmt.Errorf("action %s is not supported", a)
}

// seccompCondition maps the argument check of one OCI rule; nil when it has
// none. A rule with more than one check cannot be negated into one rule, and
// is not supported (Docker's default profile has none).
func seccompCondition(args []specs.LinuxSeccompArg) (*seccompbpf.Condition, error) {
	switch len(args) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("%d argument checks in one rule are not supported", len(args))
	}
	a := args[0]
	c := seccompbpf.Condition{Argument: uint32(a.Index), Value: a.Value}
	switch a.Op {
	case specs.OpEqualTo:
		c.Operation = seccompbpf.Equal
	case specs.OpNotEqual:
		c.Operation = seccompbpf.NotEqual
	case specs.OpLessThan:
		c.Operation = seccompbpf.LessThan
	case specs.OpLessEqual:
		c.Operation = seccompbpf.LessOrEqual
	case specs.OpGreaterThan:
		c.Operation = seccompbpf.GreaterThan
	case specs.OpGreaterEqual:
		c.Operation = seccompbpf.GreaterOrEqual
	case specs.OpMaskedEqual:
		if a.ValueTwo != 0 {
			return nil, fmt.Errorf("argument %d: masked equality to %#x is not supported", a.Index, a.ValueTwo)
		}
		// (arg & mask) == 0: none of the mask's bits set.
		c.Operation = seccompbpf.BitsNotSet
	default:
		return nil, fmt.Errorf("argument %d: operator %s is not supported", a.Index, a.Op)
	}
	return &c, nil
}

// defaultSeccompPrograms compiles the default profile's filters, in the
// order they are to be installed.
func defaultSeccompPrograms() ([][]bpf.RawInstruction, error) {
	policies, err := defaultSeccompPolicies()
	if err != nil {
		return nil, err
	}
	progs := make([][]bpf.RawInstruction, len(policies))
	for i, p := range policies {
		insts, err := p.Assemble()
		if err != nil {
			return nil, fmt.Errorf("compiling the seccomp profile: %w", err)
		}
		if progs[i], err = bpf.Assemble(insts); err != nil {
			return nil, fmt.Errorf("assembling the seccomp profile: %w", err)
		}
	}
	return progs, nil
}

// enosysStub returns a filter that answers ENOSYS to the native
// architecture's syscall numbers above the highest in the compiler's table,
// and lets every other call through to the profile's filter.
func enosysStub() ([]bpf.RawInstruction, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("compiling the seccomp ENOSYS filter: %w", err)
	}
	highest := 0
	for n := range info.SyscallNumbers {
		highest = max(highest, n)
	}
	const archOffset, nrOffset = 4, 0 // in struct seccomp_data
	raw, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: archOffset, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(info.ID), SkipTrue: 3},
		bpf.LoadAbsolute{Off: nrOffset, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(highest), SkipFalse: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW},
	})
	if err != nil {
		return nil, fmt.Errorf("assembling the seccomp ENOSYS filter: %w", err)
	}
	return raw, nil
}
