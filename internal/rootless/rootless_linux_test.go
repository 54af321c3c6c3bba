package rootless

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// envHelper makes the test binary print what it sees and exit.
const envHelper = "STRATA_ROOTLESS_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) != "" {
		os.Stdout.WriteString(strings.Join([]string{
			boolText(InUserNamespace()), OverlayXattrPrefix(),
		}, " "))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func boolText(b bool) string {
	if b {
		return "userns"
	}
	return "initial"
}

// TestInUserNamespace runs the test binary in the initial namespace and, as
// rootless strata does, as root of a new user namespace mapped to a range of
// subordinate ids (written by the kernel for us, since the test runs as
// root).
func TestInUserNamespace(t *testing.T) {
	for _, tc := range []struct {
		name string
		attr *syscall.SysProcAttr
		want string
	}{
		{"initial", nil, "initial trusted.overlay."},
		{"mapped", &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}},
		}, "userns user.overlay."},
		{"identity map of one uid", &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		}, "userns user.overlay."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), envHelper+"=1")
			cmd.SysProcAttr = tc.attr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("running the helper: %v", err)
			}
			if diff := cmp.Diff(string(out), tc.want); diff != "" {
				t.Errorf("helper saw (-got +want):\n%s", diff)
			}
		})
	}
}

// TestEnterAsRoot returns at once: root needs no user namespace.
func TestEnterAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs as root, as CI does")
	}
	if err := Enter(Options{Root: "/nonexistent"}); err != nil {
		t.Fatalf("Enter as root: %v", err)
	}
	if v := os.Getenv("STRATA_ROOT"); v == "/nonexistent" {
		t.Errorf("Enter as root set STRATA_ROOT")
	}
}

// TestStartErrorSaysWhatToDo checks the advice for each refusal of the kernel.
func TestStartErrorSaysWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.EPERM, "kernel.unprivileged_userns_clone=1"},
		{syscall.ENOSPC, "user.max_user_namespaces=15000"},
		{syscall.EINVAL, "CONFIG_USER_NS"},
	} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			got := startError(&os.SyscallError{Syscall: "fork/exec", Err: tc.errno}).Error()
			if !strings.Contains(got, tc.want) {
				t.Errorf("startError(%v) = %q, want it to mention %q", tc.errno, got, tc.want)
			}
		})
	}
}
