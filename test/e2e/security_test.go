package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// secProbeSource is a static helper for the two probes busybox has no tool
// for. It exits 0 when the sandbox let the call through, 1 when it refused
// it (EPERM), and prints the errno.
//
//   - module: finit_module(2) on /dev/null. Nothing can load (/dev/null is
//     no module), and loading modules into the shared kernel is not
//     something a test should do; what matters is whether the sandbox
//     refused the call (EPERM: no CAP_SYS_MODULE, and seccomp) or let the
//     kernel look at the file (ENOEXEC, EINVAL, or ENOSYS on a kernel built
//     without modules, as on these machines).
//   - ptrace: PTRACE_SEIZE of PID 1. No process outside the sandbox is even
//     visible in its PID namespace; the one process the command sees but did
//     not start is the sandbox init, a strata process whose other threads
//     hold every capability: attaching to it would be an escape. PTRACE_SEIZE
//     does not stop it, and the helper's exit detaches.
const secProbeSource = `package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

func main() {
	var errno syscall.Errno
	switch os.Args[1] {
	case "module":
		f, err := os.Open("/dev/null")
		if err != nil {
			panic(err)
		}
		params := []byte{0}
		sysFinitModule := map[string]uintptr{"amd64": 313, "arm64": 273}[runtime.GOARCH]
		_, _, errno = syscall.Syscall(sysFinitModule, f.Fd(), uintptr(unsafe.Pointer(&params[0])), 0)
	case "ptrace":
		const ptraceSeize = 0x4206
		_, _, errno = syscall.Syscall6(syscall.SYS_PTRACE, ptraceSeize, 1, 0, 0, 0, 0)
	}
	fmt.Println(errno.Error())
	if errno == syscall.EPERM {
		os.Exit(1)
	}
}
`

// secProbeScript tries each privileged operation and prints one line per
// probe: "probe NAME allowed", "probe NAME denied" or "probe NAME absent",
// then the command's output.
const secProbeScript = `probe() {
	name=$1; shift
	if out=$("$@" 2>&1); then r=allowed; else r=denied; fi
	case "$out" in absent*) r=absent;; esac
	echo "probe $name $r"
	echo "$out" | sed 's/^/  /'
}
mkdir -p /tmp/mnt
probe mount mount -t tmpfs none /tmp/mnt
probe module /secprobe module
# kernel.hostname is the sandbox's own (UTS namespace): harmless to write.
probe sysctl sh -c 'echo strata-sysctl > /proc/sys/kernel/hostname'
probe kcore sh -c 'test -e /proc/kcore || { echo absent; exit 0; }; head -c 4 /proc/kcore | grep -q ELF'
probe timer_list sh -c 'test -e /proc/timer_list || { echo absent; exit 0; }; head -c 1 /proc/timer_list | grep -q .'
# The host's first disk (not a loop or RAM disk), through a node made here:
# one 512-byte read.
probe disk sh -c 'set -- $(awk "NR > 2 && NF == 4 && \$4 !~ /^(loop|ram|zram)/ { print \$1, \$2; exit }" /proc/partitions); mknod /tmp/disk b $1 $2 && dd if=/tmp/disk of=/dev/null bs=512 count=1; r=$?; rm -f /tmp/disk; exit $r'
# A host block device the test attached to a file starting with a marker.
probe blockdev sh -c 'mknod /tmp/blk b ${LOOPDEV%:*} ${LOOPDEV#*:} && head -c 12 /tmp/blk | grep -q strata-probe; r=$?; rm -f /tmp/blk; exit $r'
probe devnode sh -c 'mknod /dev/probe c 1 3 && echo x > /dev/probe'
probe ptrace /secprobe ptrace
probe hostname hostname strata-probe
probe caps sh -c 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t\n" "  "; echo; grep -q "^CapEff:.*ffffff" /proc/self/status'
`

// secBuildProbe builds the static probe helper into dir.
func secBuildProbe(t *testing.T, dir string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "secprobe.go")
	if err := os.WriteFile(src, []byte(secProbeSource), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "secprobe"), src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	cmd.Dir = filepath.Dir(src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe helper: %v\n%s", err, out)
	}
}

// secLoop attaches a loop device to a file that starts with "strata-probe"
// and returns its major:minor.
func secLoop(t *testing.T) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	data := make([]byte, 1<<20)
	copy(data, "strata-probe")
	if err := os.WriteFile(img, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v\n%s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
}

// secHostDisk says whether root on the host can open its first disk through
// a node it makes: the insecure RUN can do no more. (These machines' VM
// refuses it even to the host's root.)
func secHostDisk(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/partitions")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n")[2:] {
		f := strings.Fields(l)
		if len(f) != 4 || strings.HasPrefix(f[3], "loop") || strings.HasPrefix(f[3], "ram") || strings.HasPrefix(f[3], "zram") {
			continue
		}
		maj, _ := strconv.Atoi(f[0])
		min, _ := strconv.Atoi(f[1])
		node := filepath.Join(t.TempDir(), "disk")
		if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(unix.Mkdev(uint32(maj), uint32(min)))); err != nil {
			t.Fatal(err)
		}
		f2, err := os.Open(node)
		if err != nil {
			t.Logf("the host's root cannot open its disk %s either: %v", f[3], err)
			return "denied"
		}
		f2.Close()
		return "allowed"
	}
	t.Fatal("no disk in /proc/partitions")
	return ""
}

// secResults returns the probe results of a step's output.
func secResults(logs []string) map[string]string {
	got := map[string]string{}
	for _, l := range logs {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "probe" {
			got[f[1]] = f[2]
		}
	}
	return got
}

// TestSecurityBattery runs the battery in a default RUN, where every probe
// must fail, and in a RUN --security=insecure, where each must pass as it
// does under docker run --privileged. The host's hostname must not change in
// either.
func TestSecurityBattery(t *testing.T) {
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	s := newStrata(t)
	df := "FROM busybox\n" +
		"ARG LOOPDEV\n" +
		"COPY secprobe probe.sh /\n" +
		"RUN sh /probe.sh sandbox\n" +
		"RUN --security=insecure sh /probe.sh insecure\n"
	ctx := bldContext(t, df, map[string]string{"probe.sh": secProbeScript})
	secBuildProbe(t, ctx)
	r := s.must("build", "--progress=plain", "--allow", "security.insecure", "--build-arg", "LOOPDEV="+secLoop(t), "-t", "sec", ctx)

	// Masked files this kernel may not have at all.
	var absent []string
	for _, name := range []string{"kcore", "timer_list"} {
		if _, err := os.Stat("/proc/" + name); err != nil {
			absent = append(absent, name)
		}
	}
	want := map[string]map[string]string{
		"sandbox": {
			"mount": "denied", "module": "denied", "sysctl": "denied", "timer_list": "denied",
			"disk": "denied", "blockdev": "denied", "devnode": "denied", "ptrace": "denied", "hostname": "denied", "caps": "denied",
		},
		"insecure": {
			"mount": "allowed", "module": "allowed", "sysctl": "allowed", "timer_list": "allowed",
			"disk": secHostDisk(t), "blockdev": "allowed", "devnode": "allowed", "ptrace": "allowed", "hostname": "allowed", "caps": "allowed",
		},
	}
	for _, w := range want {
		w["kcore"] = w["mount"]
		for _, name := range absent {
			w[name] = "absent"
		}
	}
	steps := bldParsePlain(t, r.stderr)
	for mode, w := range want {
		t.Run(mode, func(t *testing.T) {
			var logs []string
			for _, st := range steps {
				if strings.HasSuffix(st.name, "/probe.sh "+mode) {
					logs = st.logs
				}
			}
			if diff := cmp.Diff(secResults(logs), w); diff != "" {
				t.Errorf("probes (-got +want):\n%s\noutput:\n%s", diff, strings.Join(logs, "\n"))
			}
		})
	}
	if after, _ := os.Hostname(); after != hostname {
		t.Errorf("the host's hostname changed: got %q, want %q", after, hostname)
	}
}

// TestSecurityInsecureNeedsAllow checks that RUN --security=insecure is a
// build error naming the Dockerfile line and the flag to pass, unless
// --allow security.insecure is given, and that the mode is part of the
// cache key: the same command, insecure, is not taken from the cache.
func TestSecurityInsecureNeedsAllow(t *testing.T) {
	s := newStrata(t)
	sandboxed := "FROM busybox\nRUN grep CapEff /proc/self/status\n"
	insecure := "FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status\n"

	r := s.run("build", "--progress=plain", bldContext(t, insecure, nil))
	if r.code == 0 {
		t.Fatalf("RUN --security=insecure without --allow: build succeeded\n%s", r.stderr)
	}
	for _, want := range []string{"Dockerfile:2", "--allow security.insecure"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error does not say %q:\n%s", want, r.stderr)
		}
	}
	if r := s.run("build", "--allow", "security.everything", bldContext(t, sandboxed, nil)); r.code == 0 || !strings.Contains(r.stderr, "unknown entitlement") {
		t.Errorf("--allow of an unknown entitlement: exit %d, stderr %q", r.code, r.stderr)
	}

	capEff := func(stderr string) (string, bool) {
		steps := bldParsePlain(t, stderr)
		last := steps[len(steps)-1]
		for _, l := range last.logs {
			if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
				return strings.TrimSpace(v), last.status == "CACHED"
			}
		}
		return "", last.status == "CACHED"
	}
	r = s.must("build", "--progress=plain", bldContext(t, sandboxed, nil))
	if got, _ := capEff(r.stderr); got != "00000000a80425fb" {
		t.Errorf("default RUN: CapEff %q, want Docker's 00000000a80425fb", got)
	}
	r = s.must("build", "--progress=plain", "--allow", "security.insecure", bldContext(t, insecure, nil))
	got, cached := capEff(r.stderr)
	if cached {
		t.Fatalf("RUN --security=insecure was taken from the cache of the same sandboxed RUN")
	}
	if got == "00000000a80425fb" || got == "" {
		t.Errorf("insecure RUN: CapEff %q, want every capability", got)
	}
	r = s.must("build", "--progress=plain", "--allow", "security.insecure", bldContext(t, insecure, nil))
	if _, cached := capEff(r.stderr); !cached {
		t.Errorf("the second insecure build was not cached")
	}
}

// TestSecurityRunPrivileged checks strata run's default confinement and
// --privileged.
func TestSecurityRunPrivileged(t *testing.T) {
	s := newStrata(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"default", nil, "CapEff: 00000000a80425fb NoNewPrivs: 1 Seccomp: 2"},
		{"privileged", []string{"--privileged"}, "NoNewPrivs: 0 Seccomp: 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run", "--rm"}, tt.args...), "busybox", "grep", "-E", "^(CapEff|NoNewPrivs|Seccomp):", "/proc/self/status")
			r := s.must(args...)
			got := strings.Join(strings.Fields(r.stdout), " ")
			if !strings.HasSuffix(got, tt.want) || (tt.name == "privileged" && strings.Contains(got, "a80425fb")) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
