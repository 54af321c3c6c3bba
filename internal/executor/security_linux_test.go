package executor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// helperProbe is the sandboxed side of TestRunSecurity: the test binary,
// bind-mounted into the sandbox, tries each privileged operation with a raw
// system call and prints one line per probe: its name and "ok" or the errno.
func helperProbe() int {
	errText := func(err error) string {
		var errno unix.Errno
		switch {
		case err == nil:
			return "ok"
		case errors.As(err, &errno):
			return unix.ErrnoName(errno)
		}
		return err.Error()
	}
	probe := func(name string, err error) { fmt.Printf("%s %s\n", name, errText(err)) }
	probe("mount", unix.Mount("none", "/tmp", "tmpfs", 0, ""))
	probe("unshare", unix.Unshare(unix.CLONE_NEWNS))
	probe("sethostname", unix.Sethostname([]byte("probe")))
	if fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0); err == nil {
		// On a kernel without modules this is ENOSYS; either way, nothing
		// can load: /dev/null is no module.
		probe("finit_module", unix.FinitModule(fd, "", 0))
		unix.Close(fd)
	}
	// The sandbox init, PID 1, is the one process the command sees but did
	// not start. Attaching with PTRACE_SEIZE does not stop it, and our exit
	// detaches.
	probe("ptrace_init", unix.PtraceSeize(1))
	_, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	probe("clone3", errOrNil(e))
	_, _, e = unix.Syscall(1000, 0, 0, 0) // no such syscall
	probe("syscall_1000", errOrNil(e))
	probe("mknod", unix.Mknod("/tmp/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	probe("open_mknod", openClose("/tmp/null"))
	probe("open_dev_mknod", func() error {
		if err := unix.Mknod("/dev/null2", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			return err
		}
		return openClose("/dev/null2")
	}())
	probe("open_dev_null", openClose("/dev/null"))
	probe("write_proc_sys", os.WriteFile("/proc/sys/kernel/hostname", []byte("probe2"), 0))
	probe("write_sys", unix.Access("/sys/kernel", unix.W_OK))
	data, err := os.ReadFile("/proc/timer_list")
	if err == nil && len(data) == 0 {
		err = errors.New("empty")
	}
	probe("read_timer_list", err)
	return 0
}

func errOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func openClose(p string) error {
	fd, err := unix.Open(p, unix.O_RDWR, 0)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// probeSpec runs the test binary in the busybox root as the probe helper,
// with the host's libraries bound in for its dynamic loader.
func probeSpec(t *testing.T, lower, security string, uid int) RunSpec {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return RunSpec{
		Rootfs:   newRootfs(t, lower),
		Args:     []string{"/probe"},
		Env:      []string{"PATH=/bin", envHelper + "=probe"},
		UID:      uid,
		GID:      uid,
		Security: security,
		Mounts: []Mount{
			{Type: "bind", Source: self, Target: "/probe", ReadOnly: true},
			{Type: "bind", Source: "/lib", Target: "/lib", ReadOnly: true},
			{Type: "bind", Source: "/lib64", Target: "/lib64", ReadOnly: true},
		},
	}
}

func TestRunSecurity(t *testing.T) {
	lower := busyboxLayer(t)
	hostBefore, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	hostTimerList := "ok"
	if _, err := os.Stat("/proc/timer_list"); err != nil {
		hostTimerList = "ENOENT"
	}
	tests := []struct {
		name     string
		security string
		want     map[string]string // probe → result; "!EPERM" means anything else
	}{
		{"sandbox", "", map[string]string{
			"mount": "EPERM", "unshare": "EPERM", "sethostname": "EPERM",
			"finit_module": "EPERM", "ptrace_init": "EPERM",
			"clone3":       "ENOSYS", // as Docker: glibc falls back to clone
			"syscall_1000": "ENOSYS", // the ENOSYS filter, not the profile's EPERM
			"mknod":        "ok", "open_mknod": "EACCES", "open_dev_mknod": "EACCES", "open_dev_null": "ok",
			"write_proc_sys": "EROFS", "write_sys": "EROFS",
			"read_timer_list": map[string]string{"ok": "empty", "ENOENT": "ENOENT"}[hostTimerList],
		}},
		{"insecure", SecurityInsecure, map[string]string{
			"mount": "ok", "unshare": "ok", "sethostname": "ok",
			"finit_module": "!EPERM", "ptrace_init": "ok",
			"clone3": "EINVAL", "syscall_1000": "ENOSYS",
			"mknod": "ok", "open_mknod": "ok", "open_dev_mknod": "ok", "open_dev_null": "ok",
			"write_proc_sys": "ok", "write_sys": "ok",
			"read_timer_list": hostTimerList,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, probeSpec(t, lower, tt.security, 0))
			if got.code != 0 {
				t.Fatalf("probe: exit %d, stderr %q", got.code, got.stderr)
			}
			results := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(got.stdout), "\n") {
				name, res, _ := strings.Cut(l, " ")
				results[name] = res
			}
			for name, want := range tt.want {
				if want == "!EPERM" && results[name] != "" && results[name] != "EPERM" {
					results[name] = want
				}
			}
			if diff := cmp.Diff(results, tt.want); diff != "" {
				t.Errorf("probes (-got +want):\n%s", diff)
			}
		})
	}
	if hostAfter, _ := os.Hostname(); hostAfter != hostBefore {
		t.Errorf("host's hostname: got %q, want %q", hostAfter, hostBefore)
	}
}

func TestRunCapabilities(t *testing.T) {
	lower := busyboxLayer(t)
	const docker = "00000000a80425fb" // Docker's default set, as docker run shows it
	// Insecure gives every capability strata itself has (this machine's
	// root may lack some, such as CAP_SYS_RESOURCE).
	var all string
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			all = strings.TrimSpace(v)
		}
	}
	tests := []struct {
		name     string
		security string
		uid      int
		want     string
	}{
		{"sandbox root", "", 0, "CapInh:0000000000000000 CapPrm:" + docker + " CapEff:" + docker + " CapBnd:" + docker + " CapAmb:0000000000000000 NoNewPrivs:1 Seccomp:2"},
		{"sandbox user", SecuritySandbox, 65534, "CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:" + docker + " CapAmb:0000000000000000 NoNewPrivs:1 Seccomp:2"},
		{"insecure root", SecurityInsecure, 0, "CapInh:0000000000000000 CapPrm:" + all + " CapEff:" + all + " CapBnd:" + all + " CapAmb:0000000000000000 NoNewPrivs:0 Seccomp:0"},
		{"insecure user", SecurityInsecure, 65534, "CapInh:" + all + " CapPrm:" + all + " CapEff:" + all + " CapBnd:" + all + " CapAmb:" + all + " NoNewPrivs:0 Seccomp:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := RunSpec{
				Rootfs: newRootfs(t, lower), UID: tt.uid, GID: tt.uid, Security: tt.security,
				Args: []string{"grep", "-E", "^(Cap...|NoNewPrivs|Seccomp):", "/proc/self/status"},
			}
			got := run(t, spec)
			if got.code != 0 {
				t.Fatalf("grep: exit %d, stderr %q", got.code, got.stderr)
			}
			if s := strings.Join(strings.Fields(strings.ReplaceAll(got.stdout, ":\t", ":")), " "); s != tt.want {
				t.Errorf("got  %s\nwant %s", s, tt.want)
			}
		})
	}
}

func TestRunUnknownSecurity(t *testing.T) {
	_, err := Run(t.Context(), RunSpec{Rootfs: Rootfs{ReadOnly: true}, Args: []string{"true"}, Security: "privileged"})
	if err == nil || !strings.Contains(err.Error(), `unknown security mode "privileged"`) {
		t.Errorf("got %v, want an unknown security mode error", err)
	}
}

// seccompData is the input of a seccomp filter (struct seccomp_data, on a
// little-endian machine) as x/net/bpf's interpreter wants it: its loads read
// 32-bit words in network order, the kernel's in native order.
func seccompData(auditArch uint32, nr uint32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], nr)
	binary.BigEndian.PutUint32(b[4:], auditArch)
	for i, a := range args {
		binary.BigEndian.PutUint32(b[16+8*i:], uint32(a))       // low word first
		binary.BigEndian.PutUint32(b[16+8*i+4:], uint32(a>>32)) // then the high one
	}
	return b
}

// TestSeccompFilters runs the compiled filters in a BPF interpreter on the
// calls that Docker's profile treats specially.
func TestSeccompFilters(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != arch.X86_64.ID {
		t.Skip("the cases below use amd64 syscall numbers") // CI is amd64
	}
	progs, err := defaultSeccompPrograms()
	if err != nil {
		t.Fatal(err)
	}
	stub, err := enosysStub()
	if err != nil {
		t.Fatal(err)
	}
	vm := func(raw []bpf.RawInstruction) *bpf.VM {
		insts, ok := bpf.Disassemble(raw)
		if !ok {
			t.Fatal("disassembling the filter")
		}
		v, err := bpf.NewVM(insts)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// The kernel runs the last-installed filter first.
	filters := []*bpf.VM{vm(stub)}
	for i := len(progs) - 1; i >= 0; i-- {
		filters = append(filters, vm(progs[i]))
	}
	nr := func(name string) uint32 { return uint32(info.SyscallNames[name]) }
	const (
		allow = "allow"
		eperm = "EPERM"
		nosys = "ENOSYS"
	)
	x86 := uint32(info.ID)
	const i386 = 0x40000003
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"read", seccompData(x86, nr("read")), allow},
		{"clone of a thread", seccompData(x86, nr("clone"), unix.CLONE_VM|unix.CLONE_THREAD|unix.CLONE_SIGHAND), allow},
		{"clone of a namespace", seccompData(x86, nr("clone"), unix.CLONE_NEWNS), eperm},
		{"clone3", seccompData(x86, nr("clone3")), nosys},
		{"mount", seccompData(x86, nr("mount")), eperm},
		{"umount2", seccompData(x86, nr("umount2")), eperm},
		{"init_module", seccompData(x86, nr("init_module")), eperm},
		{"finit_module", seccompData(x86, nr("finit_module")), eperm},
		{"kexec_load", seccompData(x86, nr("kexec_load")), eperm},
		{"keyctl", seccompData(x86, nr("keyctl")), eperm},
		{"bpf", seccompData(x86, nr("bpf")), eperm},
		{"ptrace", seccompData(x86, nr("ptrace")), allow}, // Docker allows it from kernel 4.8
		{"unshare", seccompData(x86, nr("unshare")), eperm},
		{"sethostname", seccompData(x86, nr("sethostname")), eperm},
		{"personality linux", seccompData(x86, nr("personality"), 0), allow},
		{"personality other", seccompData(x86, nr("personality"), 1), eperm},
		{"socket inet", seccompData(x86, nr("socket"), unix.AF_INET), allow},
		{"socket unix", seccompData(x86, nr("socket"), unix.AF_UNIX), allow},
		{"socket inet6", seccompData(x86, nr("socket"), unix.AF_INET6), allow},
		{"socket netlink", seccompData(x86, nr("socket"), unix.AF_NETLINK), allow},
		{"socket packet", seccompData(x86, nr("socket"), unix.AF_PACKET), allow},
		{"socket mctp", seccompData(x86, nr("socket"), unix.AF_MCTP), allow},
		{"socket unspec", seccompData(x86, nr("socket"), unix.AF_UNSPEC), allow}, // < AF_INET+1, as Docker
		{"socket high word", seccompData(x86, nr("socket"), 1<<32|unix.AF_INET), eperm},
		{"socket vsock", seccompData(x86, nr("socket"), unix.AF_VSOCK), eperm},
		{"socket 1000", seccompData(x86, nr("socket"), 1000), eperm},
		{"personality 0x20008", seccompData(x86, nr("personality"), 0x20008), allow},
		{"personality query", seccompData(x86, nr("personality"), 0xffffffff), allow},
		{"clone of a user namespace", seccompData(x86, nr("clone"), unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)), eperm},
		{"fork-like clone", seccompData(x86, nr("clone"), uint64(unix.SIGCHLD)), allow},
		{"syscall numbered as a socket domain", seccompData(x86, unix.AF_NETLINK, unix.AF_NETLINK), allow}, // 16 is pread64 on amd64
		{"keyctl after socket-like args", seccompData(x86, nr("keyctl"), uint64(nr("socket"))), eperm},
		{"socket alg", seccompData(x86, nr("socket"), unix.AF_ALG), eperm},
		{"chown", seccompData(x86, nr("chown")), allow},
		{"setuid", seccompData(x86, nr("setuid")), allow},
		{"fchmodat2", seccompData(x86, nr("fchmodat2")), allow},
		{"x32 read", seccompData(x86, 0x40000000|nr("read")), nosys},
		{"i386 read", seccompData(i386, 3), eperm},
		{"unknown number", seccompData(x86, 1000), nosys},
	}
	// run applies the filters as the kernel does: the most restrictive
	// action wins, and of two errnos the last-installed filter's.
	run := func(data []byte) string {
		var rets []int
		for _, v := range filters {
			r, err := v.Run(data)
			if err != nil {
				t.Fatal(err)
			}
			rets = append(rets, r)
		}
		for _, r := range rets {
			if uint32(r)&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO {
				return unix.ErrnoName(unix.Errno(r & unix.SECCOMP_RET_DATA))
			}
		}
		for _, r := range rets {
			if uint32(r) != unix.SECCOMP_RET_ALLOW {
				return fmt.Sprintf("%#x", r)
			}
		}
		return allow
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.data); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// BenchmarkSeccompCompile measures what each sandboxed run spends resolving
// and compiling the profile, the bulk of its confinement cost.
func BenchmarkSeccompCompile(b *testing.B) {
	for b.Loop() {
		if _, err := defaultSeccompPrograms(); err != nil {
			b.Fatal(err)
		}
		if _, err := enosysStub(); err != nil {
			b.Fatal(err)
		}
	}
}
