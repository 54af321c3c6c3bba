package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// chrootTree is a native snapshot's tree made of busyboxLayer, with an
// /etc holding the image's own /etc/hosts, and old mtimes on its dirs.
func chrootTree(t *testing.T) string {
	t.Helper()
	tree := busyboxLayer(t)
	for _, a := range []string{"head", "wc"} {
		if err := os.Symlink("busybox", filepath.Join(tree, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/hosts"), []byte("10.0.0.1 image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1577836800, 0)
	for _, p := range []string{"etc/hosts", "etc", "."} {
		if err := os.Chtimes(filepath.Join(tree, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

func mtime(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime().Unix()
}

func TestRunChroot(t *testing.T) {
	tree := chrootTree(t)
	hostDir := t.TempDir()
	hosts, resolv := filepath.Join(hostDir, "hosts"), filepath.Join(hostDir, "resolv.conf")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost sandbox\n"), 0o644)
	os.WriteFile(resolv, []byte("nameserver 192.0.2.53\n"), 0o644)
	got := run(t, RunSpec{
		Rootfs:    Rootfs{Tree: tree},
		Isolation: IsolationChroot,
		Args: []string{"sh", "-c", `cat /etc/hosts /etc/resolv.conf; echo x > /dev/null && head -c 4 /dev/zero | wc -c;
ls /; pwd; id -u; grep -c ^CapEff /proc/self/status 2>/dev/null || echo no-proc; echo made > /tmp/out; exit 3`},
		Dir:        "/tmp/work",
		UID:        0,
		HostsFile:  hosts,
		ResolvConf: resolv,
	})
	if got.code != 3 {
		t.Fatalf("exit %d, want 3 (stderr %q)", got.code, got.stderr)
	}
	for _, want := range []string{"127.0.0.1 localhost sandbox", "nameserver 192.0.2.53", "/tmp/work", "no-proc"} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("stdout %q lacks %q", got.stdout, want)
		}
	}
	// What strata put in is gone, what was there is back, with its time.
	b, err := os.ReadFile(filepath.Join(tree, "etc/hosts"))
	if err != nil || string(b) != "10.0.0.1 image\n" {
		t.Errorf("/etc/hosts after the run: %q, %v; want the image's", b, err)
	}
	for _, p := range []string{"dev", "etc/resolv.conf"} {
		if _, err := os.Lstat(filepath.Join(tree, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left in the tree: %v", p, err)
		}
	}
	for _, p := range []string{"etc/hosts", "etc", "."} {
		if got, want := mtime(t, filepath.Join(tree, p)), int64(1577836800); got != want {
			t.Errorf("mtime of %s: got %d, want %d", p, got, want)
		}
	}
	// What the command made stays.
	if b, err := os.ReadFile(filepath.Join(tree, "tmp/out")); err != nil || string(b) != "made\n" {
		t.Errorf("/tmp/out: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(tree, "tmp/work")); err != nil {
		t.Errorf("working dir: %v", err)
	}
}

func TestRunChrootKeepsCommandsDev(t *testing.T) {
	tree := chrootTree(t)
	run(t, RunSpec{Rootfs: Rootfs{Tree: tree}, Isolation: IsolationChroot,
		Args: []string{"sh", "-c", "echo mine > /dev/note"}})
	if b, err := os.ReadFile(filepath.Join(tree, "dev/note")); err != nil || string(b) != "mine\n" {
		t.Fatalf("/dev/note: %q, %v", b, err)
	}
	names := readDirNames(t, filepath.Join(tree, "dev"))
	if diff := cmp.Diff(names, []string{"note"}); diff != "" {
		t.Errorf("/dev after the run (-got +want):\n%s", diff)
	}
}

func TestRunChrootRefuses(t *testing.T) {
	tree := chrootTree(t)
	tests := []struct {
		name string
		spec RunSpec
		want string
	}{
		{"overlay", RunSpec{Rootfs: newRootfs(t, tree)}, "needs the native snapshotter"},
		{"read-only", RunSpec{Rootfs: Rootfs{Tree: tree, ReadOnly: true}}, "read-only"},
		{"network none", RunSpec{Rootfs: Rootfs{Tree: tree}, Network: "none"}, "network namespace"},
		{"mount", RunSpec{Rootfs: Rootfs{Tree: tree}, Mounts: []Mount{{Type: "tmpfs", Target: "/cache"}}}, "cannot mount /cache"},
		{"auto unresolved", RunSpec{Rootfs: Rootfs{Tree: tree}, Isolation: IsolationAuto}, "resolve auto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			if spec.Isolation == "" {
				spec.Isolation = IsolationChroot
			}
			spec.Args = []string{"true"}
			_, err := Run(context.Background(), spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestDoChroot(t *testing.T) {
	tree := chrootTree(t)
	err := Do(context.Background(), DoSpec{Rootfs: Rootfs{Tree: tree}, Op: "test-write", Arg: []byte("data"), Isolation: IsolationChroot})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(tree, "x")); err != nil || string(b) != "data" {
		t.Fatalf("x: %q, %v", b, err)
	}
	err = Do(context.Background(), DoSpec{Rootfs: newRootfs(t, tree), Op: "test-write", Isolation: IsolationChroot})
	if err == nil || !strings.Contains(err.Error(), "native snapshotter") {
		t.Fatalf("Do over an overlay in chroot isolation: got %v, want the native snapshotter asked for", err)
	}
}

// helperProbeNoAdmin is the test binary started without CAP_SYS_ADMIN:
// it prints what Probe says.
func helperProbeNoAdmin() int {
	if err := Probe(context.Background()); err != nil {
		fmt.Println("refused:", err)
		return 0
	}
	fmt.Println("allowed")
	return 0
}

func TestProbe(t *testing.T) {
	if err := Probe(context.Background()); err != nil {
		t.Fatalf("Probe as root: %v", err)
	}
	// Without CAP_SYS_ADMIN, as in a container with docker's defaults, the
	// namespaces are refused.
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("this test needs setpriv (Debian package util-linux): %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--bounding-set", "-sys_admin", self)
	cmd.Env = append(os.Environ(), envHelper+"=probe-noadmin")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "refused: namespaces refused: operation not permitted"; got != want {
		t.Fatalf("Probe without CAP_SYS_ADMIN: got %q, want %q", got, want)
	}
}

func TestParseIsolation(t *testing.T) {
	tests := []struct {
		in   string
		want Isolation
		err  bool
	}{{"", IsolationAuto, false}, {"auto", IsolationAuto, false}, {"chroot", IsolationChroot, false}, {"namespaces", IsolationNamespaces, false}, {"rootless", "", true}}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseIsolation(tt.in)
			if got != tt.want || (err != nil) != tt.err {
				t.Fatalf("ParseIsolation(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}
