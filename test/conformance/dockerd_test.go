package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dockerClientBin is Debian's docker client (package docker.io): BuildKit is
// built into it, where a newer client without buildx refuses DOCKER_BUILDKIT=1.
const dockerClientBin = "/usr/bin/docker"

// dockerd is the private docker daemon of one test run.
type dockerd struct {
	sock   string // the daemon's unix socket
	config string // DOCKER_CONFIG for the client
}

// startDockerd starts a docker daemon of the run's own (data root, exec
// root, pid file, socket; overlay2; no bridge and no iptables rules), so that
// nothing of the machine's docker is touched. It is stopped, and its mounts
// removed, when the test ends. A missing dockerd fails the test.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	bin := ""
	for _, b := range []string{"/usr/sbin/dockerd", "/usr/bin/dockerd"} {
		if _, err := os.Stat(b); err == nil {
			bin = b
			break
		}
	}
	if bin == "" {
		t.Fatal("dockerd not found in /usr/sbin or /usr/bin: run \"apt-get install docker.io\" (the oracle of the conformance suite)")
	}
	if _, err := os.Stat(dockerClientBin); err != nil {
		t.Fatalf("%s is missing: run \"apt-get install docker.io\": %v", dockerClientBin, err)
	}
	// Unix socket paths are limited to 108 bytes, and containerd puts its
	// sockets under the exec root: keep both short.
	short, err := os.MkdirTemp("/tmp", "strata-cf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	d := &dockerd{sock: filepath.Join(short, "docker.sock"), config: filepath.Join(short, "client")}
	if err := os.Mkdir(d.config, 0o700); err != nil {
		t.Fatal(err)
	}
	daemonJSON := filepath.Join(short, "daemon.json") // so /etc/docker/daemon.json is not read
	if err := os.WriteFile(daemonJSON, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dataRoot := filepath.Join(t.TempDir(), "docker")
	execRoot := filepath.Join(short, "x")
	logPath := filepath.Join(short, "dockerd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--data-root", dataRoot, "--exec-root", execRoot,
		"--pidfile", filepath.Join(short, "dockerd.pid"),
		"-H", "unix://"+d.sock, "--config-file", daemonJSON,
		"--bridge=none", "--iptables=false", "--ip6tables=false",
		"--storage-driver=overlay2")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should the test binary be killed (a timeout, ^C), the daemon stops too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() { stopDockerd(t, cmd, exited, short, dataRoot, execRoot); logf.Close() }
	if d.waitReady(exited, 90*time.Second) {
		t.Cleanup(stop)
		return d
	}
	stop()
	log, _ := os.ReadFile(logPath)
	t.Fatalf("dockerd --storage-driver=overlay2 did not come up:\n%s", lastLines(string(log), 30))
	return nil
}

// waitReady waits until `docker version` answers, the daemon exits, or the
// timeout passes; it reports whether the daemon answered.
func (d *dockerd) waitReady(exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if _, err := os.Stat(d.sock); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := d.command(ctx, "version").Run()
			cancel()
			if err == nil {
				return true
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// command is the docker client against the daemon, with BuildKit on.
func (d *dockerd) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, dockerClientBin, append([]string{"-H", "unix://" + d.sock}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+d.config, "DOCKER_BUILDKIT=1")
	return cmd
}

// output runs the docker client and returns its stdout; the error carries
// stderr.
func (d *dockerd) output(ctx context.Context, args ...string) (string, error) {
	cmd := d.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(lastLines(errb.String(), 10)))
	}
	return out.String(), nil
}

// stopDockerd stops the daemon: SIGTERM, a wait, SIGKILL if need be; then
// kills what it left running under its exec root (containerd and shims
// started for it) and lazily unmounts what is left under its roots.
func stopDockerd(t *testing.T, cmd *exec.Cmd, exited <-chan struct{}, roots ...string) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Logf("dockerd did not stop within 30s of SIGTERM: killing it")
		cmd.Process.Kill()
		<-exited
	}
	for _, pid := range pidsMentioning(roots[0]) {
		t.Logf("killing %d, left behind by dockerd", pid)
		unix.Kill(pid, unix.SIGKILL)
	}
	for _, m := range mountPointsUnder(roots...) {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			t.Errorf("unmounting %s left by dockerd: %v", m, err)
		}
	}
}

// pidsMentioning returns the processes whose command line mentions dir (a
// directory unique to this run).
func pidsMentioning(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountPointsUnder returns the mount points at or under any of roots,
// deepest first.
func mountPointsUnder(roots ...string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		for _, r := range roots {
			if mp == r || strings.HasPrefix(mp, r+"/") {
				out = append(out, mp)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// unescapeMount undoes the octal escapes of /proc/self/mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
