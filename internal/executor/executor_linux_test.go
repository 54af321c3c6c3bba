package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// envHelper makes the test binary a process that runs `sleep 1001` in a
// sandbox, for the test that SIGKILLs the parent.
const envHelper = "EXECUTOR_TEST_HELPER"

func TestMain(m *testing.M) {
	Init()
	if os.Getenv(envHelper) == "sleep" {
		os.Exit(helperSleep())
	}
	if os.Getenv(envHelper) == "probe-noadmin" {
		os.Exit(helperProbeNoAdmin())
	}
	if os.Getenv(envHelper) == "probe" {
		os.Exit(helperProbe())
	}
	os.Exit(m.Run())
}

func helperSleep() int {
	spec := RunSpec{
		Rootfs: Rootfs{
			Lower: []string{os.Getenv("EXECUTOR_TEST_LOWER")},
			Upper: os.Getenv("EXECUTOR_TEST_UPPER"),
			Work:  os.Getenv("EXECUTOR_TEST_WORK"),
		},
		Args: []string{"sleep", "1001"},
		Env:  []string{"PATH=/bin"},
	}
	code, err := Run(context.Background(), spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}

func init() {
	Register("test-write", func(ctx context.Context, root string, arg []byte, stdout io.Writer) error {
		p, err := securejoin.SecureJoin(root, "x")
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, arg, 0o644); err != nil {
			return err
		}
		_, err = fmt.Fprint(stdout, "ok")
		return err
	})
	Register("test-read", func(ctx context.Context, root string, arg []byte, stdout io.Writer) error {
		p, err := securejoin.SecureJoin(root, string(arg))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	})
	Register("test-fail", func(ctx context.Context, root string, arg []byte, stdout io.Writer) error {
		return errors.New("frobbing the widget: no widget")
	})
}

var busyboxApplets = []string{"sh", "echo", "cat", "ls", "mount", "hostname", "sleep", "id", "touch", "rm", "mkdir", "pwd", "kill", "grep", "stat"}

// busyboxLayer makes a lower dir holding a static busybox and its applets,
// an empty /tmp and a file /deleteme.
func busyboxLayer(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("these tests need a static /bin/busybox (Debian package busybox-static): %v", err)
	}
	dir := filepath.Join(t.TempDir(), "busybox")
	for _, d := range []string{"bin", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "deleteme"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newRootfs returns a rootfs over lower with fresh upper and work dirs.
func newRootfs(t *testing.T, lower ...string) Rootfs {
	t.Helper()
	snap := filepath.Join(t.TempDir(), "snap")
	r := Rootfs{Lower: lower, Upper: filepath.Join(snap, "upper"), Work: filepath.Join(snap, "work")}
	for _, d := range []string{r.Upper, r.Work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

type runResult struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, spec RunSpec) runResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	spec.Stdout, spec.Stderr = &stdout, &stderr
	if spec.Env == nil {
		spec.Env = []string{"PATH=/bin"}
	}
	code, err := Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run(%q): %v (stderr %q)", spec.Args, err, stderr.String())
	}
	return runResult{stdout.String(), stderr.String(), code}
}

func TestRunExitStatus(t *testing.T) {
	lower := busyboxLayer(t)
	tests := []struct {
		name       string
		args       []string
		wantStdout string
		wantStderr string // substring
		wantCode   int
	}{
		{"echo", []string{"echo", "hello"}, "hello\n", "", 0},
		{"exit", []string{"sh", "-c", "exit 3"}, "", "", 3},
		{"absolute path", []string{"/bin/echo", "hi"}, "hi\n", "", 0},
		{"not found", []string{"nosuchcmd"}, "", `strata: exec: "nosuchcmd": executable file not found in $PATH`, 127},
		{"missing path", []string{"/nope/cmd"}, "", `strata: exec: "/nope/cmd"`, 127},
		{"signal", []string{"sh", "-c", "kill -9 $$"}, "", "", 128 + 9},
		{"stdin", []string{"cat"}, "from stdin", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // sandboxes side by side, over one lower dir
			spec := RunSpec{Rootfs: newRootfs(t, lower), Args: tt.args}
			if tt.name == "stdin" {
				spec.Stdin = strings.NewReader("from stdin")
			}
			got := run(t, spec)
			if got.stdout != tt.wantStdout || got.code != tt.wantCode || !strings.Contains(got.stderr, tt.wantStderr) {
				t.Errorf("got stdout %q, code %d, stderr %q; want %q, %d, stderr containing %q",
					got.stdout, got.code, got.stderr, tt.wantStdout, tt.wantCode, tt.wantStderr)
			}
		})
	}
}

func TestRunWritesLandInUpper(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRootfs(t, lower)
	got := run(t, RunSpec{Rootfs: r, Args: []string{"sh", "-c", "echo new > /newfile && rm /deleteme"}})
	if got.code != 0 {
		t.Fatalf("exit %d, stderr %q", got.code, got.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(r.Upper, "newfile")); err != nil || string(b) != "new\n" {
		t.Errorf("upper/newfile: got %q, %v; want %q", b, err, "new\n")
	}
	if _, err := os.Lstat(filepath.Join(lower, "newfile")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lower/newfile: got %v, want not exist", err)
	}
	if b, err := os.ReadFile(filepath.Join(lower, "deleteme")); err != nil || string(b) != "old\n" {
		t.Errorf("lower/deleteme: got %q, %v; want it untouched", b, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(r.Upper, "deleteme"), &st); err != nil {
		t.Fatalf("upper/deleteme: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("upper/deleteme: got mode %o rdev %d, want a 0:0 character device", st.Mode, st.Rdev)
	}
}

func TestRunIsolation(t *testing.T) {
	lower := busyboxLayer(t)
	hostFile, err := os.CreateTemp("", "strata-executor-secret-")
	if err != nil {
		t.Fatal(err)
	}
	hostFile.Close()
	t.Cleanup(func() { os.Remove(hostFile.Name()) })
	hostBefore, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		want     string
		wantCode int
	}{
		{"host file invisible", []string{"ls", "/tmp/" + filepath.Base(hostFile.Name())}, "", 1},
		{"init is pid 1", []string{"cat", "/proc/1/cmdline"}, "strata-sandbox\x00", 0},
		{"no host pids", []string{"ls", "/proc/" + strconv.Itoa(os.Getpid())}, "", 1},
		// The sandbox init's threads take pids too: the command's is not 2.
		{"only own pids", []string{"sh", "-c", "cd /proc && for p in [0-9]*; do [ $p = 1 ] || [ $p = $$ ] || echo $p; done"}, "", 0},
		{"hostname", []string{"hostname"}, "buildbox\n", 0},
		{"default hostname", []string{"hostname"}, "strata\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := RunSpec{Rootfs: newRootfs(t, lower), Args: tt.args, Hostname: "buildbox"}
			if tt.name == "default hostname" {
				spec.Hostname = ""
			}
			got := run(t, spec)
			if got.stdout != tt.want || got.code != tt.wantCode {
				t.Errorf("got %q, exit %d (stderr %q); want %q, exit %d", got.stdout, got.code, got.stderr, tt.want, tt.wantCode)
			}
		})
	}
	if hostAfter, _ := os.Hostname(); hostAfter != hostBefore {
		t.Errorf("host's hostname: got %q, want %q", hostAfter, hostBefore)
	}
}

// readDirNames lists dir recursively as slash paths, dirs ending in "/".
func readDirNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRunMountsAndStubs(t *testing.T) {
	lower := busyboxLayer(t)
	files := t.TempDir()
	hosts := filepath.Join(files, "hosts")
	resolv := filepath.Join(files, "resolv.conf")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost buildbox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(files, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "input"), []byte("context\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := []Mount{
		{Type: "bind", Source: src, Target: "/mnt/src", ReadOnly: true},
		{Type: "tmpfs", Target: "/var/cache/apt", Options: []string{"size=1m"}},
	}

	tests := []struct {
		name      string
		script    string
		want      string
		wantUpper []string
	}{
		{
			name:   "files and mounts",
			script: "cat /etc/hosts /etc/resolv.conf /mnt/src/input; touch /mnt/src/x 2>/dev/null || echo ro; echo c > /var/cache/apt/c && echo tmpfs; ls /dev/null /dev/pts/ptmx /dev/shm >/dev/null && echo dev",
			want:   "127.0.0.1 localhost buildbox\nnameserver 192.0.2.53\ncontext\nro\ntmpfs\ndev\n",
		},
		{
			name:      "own etc file kept",
			script:    "echo mine > /etc/newfile",
			wantUpper: []string{"etc/", "etc/newfile"},
		},
		{
			name:      "own file next to a mount kept",
			script:    "echo mine > /var/cache/note; mkdir -p /mnt/other",
			wantUpper: []string{"mnt/", "mnt/other/", "var/", "var/cache/", "var/cache/note"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRootfs(t, lower)
			got := run(t, RunSpec{
				Rootfs: r, Args: []string{"sh", "-c", tt.script},
				HostsFile: hosts, ResolvConf: resolv, Mounts: mounts,
			})
			if got.code != 0 || got.stdout != tt.want {
				t.Errorf("got %q, exit %d (stderr %q); want %q", got.stdout, got.code, got.stderr, tt.want)
			}
			if diff := cmp.Diff(tt.wantUpper, readDirNames(t, r.Upper)); diff != "" {
				t.Errorf("upper dir (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunSetupFailure(t *testing.T) {
	r := newRootfs(t, busyboxLayer(t))
	spec := RunSpec{
		Rootfs: r, Args: []string{"true"},
		Mounts: []Mount{{Type: "bind", Source: "/nonexistent/strata-src", Target: "/mnt/src"}},
	}
	_, err := Run(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "mounting /nonexistent/strata-src on /mnt/src") {
		t.Errorf("got error %v, want one naming the failed mount", err)
	}
	if got := readDirNames(t, r.Upper); len(got) > 0 {
		t.Errorf("upper dir after a failed setup: got %v, want it empty", got)
	}
}

func TestRunUserAndDir(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRootfs(t, lower)
	got := run(t, RunSpec{
		Rootfs: r, Args: []string{"sh", "-c", "id; pwd"},
		UID: 1000, GID: 1000, Groups: []int{50}, Dir: "/work/dir",
	})
	want := "uid=1000 gid=1000 groups=50\n/work/dir\n"
	if got.code != 0 || got.stdout != want {
		t.Errorf("got %q, exit %d (stderr %q); want %q", got.stdout, got.code, got.stderr, want)
	}
	fi, err := os.Stat(filepath.Join(r.Upper, "work/dir"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != os.ModeDir|0o755 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("working dir: got %v %d:%d, want drwxr-xr-x 0:0", fi.Mode(), st.Uid, st.Gid)
	}
}

// netDevs returns the interface names in a /proc/net/dev listing.
func netDevs(listing string) []string {
	var names []string
	for _, line := range strings.Split(listing, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			names = append(names, strings.TrimSpace(name))
		}
	}
	slices.Sort(names)
	return names
}

func TestRunNetwork(t *testing.T) {
	lower := busyboxLayer(t)
	host, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		network string
		want    []string
	}{
		{"none", []string{"lo"}},
		{"host", netDevs(string(host))},
	}
	for _, tt := range tests {
		t.Run(tt.network, func(t *testing.T) {
			got := run(t, RunSpec{Rootfs: newRootfs(t, lower), Network: tt.network, Args: []string{"cat", "/proc/net/dev"}})
			if diff := cmp.Diff(tt.want, netDevs(got.stdout)); diff != "" || got.code != 0 {
				t.Errorf("exit %d (stderr %q), interfaces (-want +got):\n%s", got.code, got.stderr, diff)
			}
		})
	}
	t.Run("lo up", func(t *testing.T) {
		got := run(t, RunSpec{Rootfs: newRootfs(t, lower), Network: "none", Args: []string{"cat", "/sys/class/net/lo/operstate"}})
		// lo reports "unknown" when up, "down" otherwise.
		if got.stdout != "unknown\n" {
			t.Errorf("lo operstate: got %q (stderr %q), want %q", got.stdout, got.stderr, "unknown\n")
		}
	})
}

// processesWithCmdline returns the host pids whose cmdline is args.
func processesWithCmdline(t *testing.T, args ...string) []int {
	t.Helper()
	want := strings.Join(args, "\x00") + "\x00"
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && string(b) == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder returns the mount points under dir in a mounts file.
func mountsUnder(t *testing.T, mountsFile, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(mountsFile)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir) {
			got = append(got, f[1])
		}
	}
	return got
}

// waitFor polls cond for up to 5 s.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func TestRunCancel(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRootfs(t, lower)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, RunSpec{Rootfs: r, Args: []string{"sleep", "1000"}, Env: []string{"PATH=/bin"}})
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Run took %v after cancellation", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run: got error %v, want context.DeadlineExceeded", err)
	}
	if !waitFor(func() bool { return len(processesWithCmdline(t, "sleep", "1000")) == 0 }) {
		t.Errorf("sleep 1000 survived: pids %v", processesWithCmdline(t, "sleep", "1000"))
	}
	if got := mountsUnder(t, "/proc/self/mounts", filepath.Dir(r.Upper)); len(got) > 0 {
		t.Errorf("mounts left in the test's namespace: %v", got)
	}
	if got := readDirNames(t, filepath.Dir(r.Upper)); !slices.Equal(got, []string{"upper/", "work/", "work/work/"}) && !slices.Equal(got, []string{"upper/", "work/"}) {
		t.Errorf("snapshot dir after cancel: got %v, want upper and work only", got)
	}
}

func TestRunForwardsSignals(t *testing.T) {
	lower := busyboxLayer(t)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := Run(context.Background(), RunSpec{Rootfs: newRootfs(t, lower), Args: []string{"sleep", "1002"}, Env: []string{"PATH=/bin"}})
		done <- result{code, err}
	}()
	var initPids []int
	if !waitFor(func() bool {
		// Other strata processes on the machine have sandboxes too: ours
		// is the test process's child.
		initPids = slices.DeleteFunc(processesWithCmdline(t, "strata-sandbox"), func(pid int) bool {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			return err != nil || len(f) < 2 || f[1] != strconv.Itoa(os.Getpid())
		})
		return len(processesWithCmdline(t, "sleep", "1002")) > 0 && len(initPids) == 1
	}) {
		t.Fatalf("sandbox never started: init pids %v", initPids)
	}
	if err := syscall.Kill(initPids[0], syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got.err != nil || got.code != 128+int(syscall.SIGTERM) {
			t.Errorf("Run: got %d, %v; want %d (SIGTERM)", got.code, got.err, 128+int(syscall.SIGTERM))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM to the sandbox init did not stop the command")
	}
}

func TestRunParentKilled(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRootfs(t, lower)
	var out bytes.Buffer
	helper := exec.Command("/proc/self/exe", "-test.run=^$")
	helper.Env = append(os.Environ(), envHelper+"=sleep",
		"EXECUTOR_TEST_LOWER="+lower, "EXECUTOR_TEST_UPPER="+r.Upper, "EXECUTOR_TEST_WORK="+r.Work)
	helper.Stdout, helper.Stderr = &out, &out
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(func() bool { return len(processesWithCmdline(t, "sleep", "1001")) > 0 }) {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("sleep 1001 never started; helper output %q", out.String())
	}
	if got := mountsUnder(t, "/proc/mounts", filepath.Dir(r.Upper)); len(got) > 0 {
		t.Errorf("sandbox mounts visible on the host while running: %v", got)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	if !waitFor(func() bool { return len(processesWithCmdline(t, "sleep", "1001")) == 0 }) {
		t.Errorf("sleep 1001 survived its parent: pids %v", processesWithCmdline(t, "sleep", "1001"))
	}
	if got := mountsUnder(t, "/proc/mounts", filepath.Dir(r.Upper)); len(got) > 0 {
		t.Errorf("mounts left on the host: %v", got)
	}
}

func TestDo(t *testing.T) {
	lower := busyboxLayer(t)
	t.Run("write", func(t *testing.T) {
		r := newRootfs(t, lower)
		var stdout bytes.Buffer
		if err := Do(context.Background(), DoSpec{Rootfs: r, Op: "test-write", Arg: []byte("payload"), Stdout: &stdout}); err != nil {
			t.Fatalf("Do: %v", err)
		}
		if got := stdout.String(); got != "ok" {
			t.Errorf("stdout: got %q, want %q", got, "ok")
		}
		if b, err := os.ReadFile(filepath.Join(r.Upper, "x")); err != nil || string(b) != "payload" {
			t.Errorf("upper/x: got %q, %v; want %q", b, err, "payload")
		}
		if _, err := os.Lstat(filepath.Join(lower, "x")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lower/x: got %v, want not exist", err)
		}
	})
	t.Run("scratch", func(t *testing.T) {
		r := newRootfs(t)
		if err := Do(context.Background(), DoSpec{Rootfs: r, Op: "test-write", Arg: []byte("s")}); err != nil {
			t.Fatalf("Do: %v", err)
		}
		if diff := cmp.Diff([]string{"x"}, readDirNames(t, r.Upper)); diff != "" {
			t.Errorf("upper (-want +got):\n%s", diff)
		}
	})
	t.Run("op error", func(t *testing.T) {
		err := Do(context.Background(), DoSpec{Rootfs: newRootfs(t, lower), Op: "test-fail"})
		if err == nil || err.Error() != "frobbing the widget: no widget" {
			t.Errorf("got error %v, want %q", err, "frobbing the widget: no widget")
		}
	})
	t.Run("unknown op", func(t *testing.T) {
		err := Do(context.Background(), DoSpec{Rootfs: newRootfs(t, lower), Op: "no-such-op"})
		if err == nil || !strings.Contains(err.Error(), `unknown op "no-such-op"`) {
			t.Errorf("got error %v, want an unknown op error", err)
		}
	})
	top := t.TempDir()
	if err := os.WriteFile(filepath.Join(top, "deleteme"), []byte("top\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, lowers := range [][]string{{lower}, {top, lower}} {
		t.Run(fmt.Sprintf("read-only %d lowers", len(lowers)), func(t *testing.T) {
			r := Rootfs{Lower: lowers, ReadOnly: true}
			err := Do(context.Background(), DoSpec{Rootfs: r, Op: "test-write"})
			if !errors.Is(err, syscall.EROFS) && (err == nil || !strings.Contains(err.Error(), "read-only file system")) {
				t.Errorf("writing: got error %v, want read-only file system", err)
			}
			var stdout bytes.Buffer
			if err := Do(context.Background(), DoSpec{Rootfs: r, Op: "test-read", Arg: []byte("/deleteme"), Stdout: &stdout}); err != nil {
				t.Fatalf("reading: %v", err)
			}
			want := map[int]string{1: "old\n", 2: "top\n"}[len(lowers)]
			if got := stdout.String(); got != want {
				t.Errorf("reading: got %q, want %q", got, want)
			}
		})
	}
}

func TestManyLowers(t *testing.T) {
	const n = 60
	base := t.TempDir()
	var lowers []string
	for i := range n - 1 {
		// Store-like paths (layers/<chain id>/diff), long enough that the
		// lowerdir option does not fit in a page.
		d := filepath.Join(base, fmt.Sprintf("%064x", i), "diff")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "layer-"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte(strconv.Itoa(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		lowers = append(lowers, d)
	}
	lowers = append(lowers, busyboxLayer(t))
	r := newRootfs(t, lowers...)
	if len(strings.Join(lowers, ":")) < os.Getpagesize() {
		t.Fatalf("the lowerdir option fits in a page: the test does not reach the new mount API")
	}
	got := run(t, RunSpec{Rootfs: r, Args: []string{"sh", "-c", "cat /f; echo; ls / | grep -c layer-"}})
	want := "0\n59\n"
	if got.code != 0 || got.stdout != want {
		t.Errorf("got %q, exit %d (stderr %q); want %q", got.stdout, got.code, got.stderr, want)
	}
}

func TestLookPath(t *testing.T) {
	lower := busyboxLayer(t)
	t.Chdir(lower)
	tests := []struct {
		name   string
		env    []string
		want   string
		wantOK bool
	}{
		{"sh", []string{"PATH=/nope:bin"}, "bin/sh", true},
		{"sh", []string{"PATH=/nope"}, "", false},
		{"deleteme", []string{"PATH=."}, "", false}, // not executable
		{"./x", nil, "./x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+strings.Join(tt.env, " "), func(t *testing.T) {
			got, ok := lookPath(tt.name, tt.env)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestRunLayersMountSub: a layers mount with Sub shows that directory or
// file of the layers (resolved inside them), read-only or writable with
// the writes thrown away, and its mount point is removed afterwards.
func TestRunLayersMountSub(t *testing.T) {
	lower := busyboxLayer(t)
	layer := t.TempDir()
	if err := os.MkdirAll(filepath.Join(layer, "opt", "tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layer, "opt", "tools", "t.txt"), []byte("tool\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/opt/tools", filepath.Join(layer, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mount  Mount
		script string
		want   string
	}{
		{"dir ro", Mount{Sub: "/opt/tools", Target: "/t", ReadOnly: true}, "cat /t/t.txt; touch /t/x 2>/dev/null || echo ro", "tool\nro\n"},
		{"file ro", Mount{Sub: "opt/tools/t.txt", Target: "/f/t.txt", ReadOnly: true}, "cat /f/t.txt", "tool\n"},
		{"through a symlink", Mount{Sub: "/link/t.txt", Target: "/f", ReadOnly: true}, "cat /f", "tool\n"},
		{"dir rw", Mount{Sub: "/opt/tools", Target: "/t"}, "echo new > /t/t.txt && cat /t/t.txt", "new\n"},
		{"missing", Mount{Sub: "/nope", Target: "/t", ReadOnly: true}, "true", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.mount
			m.Type, m.Lowers, m.Source = "layers", []string{layer}, t.TempDir()
			r := newRootfs(t, lower)
			var stdout, stderr bytes.Buffer
			code, err := Run(context.Background(), RunSpec{Rootfs: r, Args: []string{"sh", "-c", tt.script},
				Env: []string{"PATH=/bin"}, Mounts: []Mount{m}, Stdout: &stdout, Stderr: &stderr})
			if tt.name == "missing" {
				if err == nil || !strings.Contains(err.Error(), "source /nope") {
					t.Fatalf("got error %v, want one naming the missing source", err)
				}
				return
			}
			if err != nil || code != 0 || stdout.String() != tt.want {
				t.Fatalf("got %q, exit %d, err %v (stderr %q); want %q", stdout.String(), code, err, stderr.String(), tt.want)
			}
			if got := readDirNames(t, r.Upper); len(got) != 0 {
				t.Errorf("upper dir holds %v, want nothing (mount points removed)", got)
			}
			if data, _ := os.ReadFile(filepath.Join(layer, "opt", "tools", "t.txt")); string(data) != "tool\n" {
				t.Errorf("the layer changed: %q", data)
			}
		})
	}
}
