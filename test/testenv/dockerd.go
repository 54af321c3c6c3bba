package testenv

import (
	"bytes"
	"context"
	"errors"
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

// DockerClientBin is Debian's docker client (package docker.io): BuildKit is
// built into it, where a newer client without buildx refuses
// DOCKER_BUILDKIT=1.
const DockerClientBin = "/usr/bin/docker"

// dockerdBins are where Debian's docker.io puts dockerd (/usr/sbin), and
// where other packagings do.
func dockerdBins() []string { return []string{"/usr/sbin/dockerd", "/usr/bin/dockerd"} }

// Dockerd is a private docker daemon started for one test.
type Dockerd struct {
	// Sock is the daemon's unix socket.
	Sock string
	// Config is the client's DOCKER_CONFIG directory.
	Config string
}

// DockerdOptions configure StartDockerd.
type DockerdOptions struct {
	// Drivers are the storage drivers tried in order (default overlay2);
	// the first the daemon comes up with is kept.
	Drivers []string
}

// StartDockerd starts a docker daemon of the test's own (data root, exec
// root, pid file, socket; no bridge and no iptables rules), so that nothing
// of the machine's docker is touched. It is stopped, and its mounts
// removed, when the test ends; it stops too should the test binary be
// killed. A missing dockerd or client, or a daemon that comes up with none
// of the drivers, fails the test.
func StartDockerd(t testing.TB, opts DockerdOptions) *Dockerd {
	t.Helper()
	bin := ""
	for _, b := range dockerdBins() {
		if _, err := os.Stat(b); err == nil {
			bin = b
			break
		}
	}
	if bin == "" {
		t.Fatalf("dockerd not found in %s: run \"apt-get install docker.io\"", strings.Join(dockerdBins(), " or "))
	}
	if _, err := os.Stat(DockerClientBin); err != nil {
		t.Fatalf("%s is missing: run \"apt-get install docker.io\" (%v)", DockerClientBin, err)
	}
	drivers := opts.Drivers
	if len(drivers) == 0 {
		drivers = []string{"overlay2"}
	}
	// Unix socket paths are limited to 108 bytes, and containerd puts its
	// own sockets under the exec root: keep both short.
	short, err := os.MkdirTemp("/tmp", "strata-dk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	d := &Dockerd{Sock: filepath.Join(short, "docker.sock"), Config: filepath.Join(short, "client")}
	if err := os.Mkdir(d.Config, 0o700); err != nil {
		t.Fatal(err)
	}
	daemonJSON := filepath.Join(short, "daemon.json") // so /etc/docker/daemon.json is not read
	if err := os.WriteFile(daemonJSON, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, driver := range drivers {
		log, ok := d.start(t, bin, short, daemonJSON, driver)
		if ok {
			return d
		}
		logs = append(logs, "--storage-driver="+driver+":\n"+LastLines(log, 30))
	}
	t.Fatalf("dockerd did not come up with %s:\n%s", strings.Join(drivers, " nor "), strings.Join(logs, "\n"))
	return nil
}

// start runs dockerd with driver and waits for it. It reports whether the
// daemon answered (then it is stopped when the test ends), else returns the
// daemon's log.
func (d *Dockerd) start(t testing.TB, bin, short, daemonJSON, driver string) (string, bool) {
	dataRoot := t.TempDir()
	execRoot := filepath.Join(short, "x-"+driver)
	logPath := filepath.Join(short, "dockerd-"+driver+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--data-root", dataRoot, "--exec-root", execRoot,
		"--pidfile", filepath.Join(short, "dockerd-"+driver+".pid"),
		"-H", "unix://"+d.Sock, "--config-file", daemonJSON,
		"--bridge=none", "--iptables=false", "--ip6tables=false",
		"--storage-driver="+driver)
	cmd.Stdout, cmd.Stderr = logf, logf
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
		return "", true
	}
	stop()
	log, _ := os.ReadFile(logPath)
	return string(log), false
}

// Command is the docker client against the daemon, with its own
// DOCKER_CONFIG.
func (d *Dockerd) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, DockerClientBin, append([]string{"-H", "unix://" + d.Sock}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+d.Config)
	return cmd
}

// waitReady waits until `docker version` answers, the daemon exits, or the
// timeout passes; it reports whether the daemon answered.
func (d *Dockerd) waitReady(exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if _, err := os.Stat(d.Sock); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := d.Command(ctx, "version").Run()
			cancel()
			if err == nil {
				return true
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// stopDockerd stops the daemon: SIGTERM, a wait, SIGKILL if need be; then
// kills what it left running under its exec root (containerd and shims
// started for it) and lazily unmounts what is left under its roots.
func stopDockerd(t testing.TB, cmd *exec.Cmd, exited <-chan struct{}, roots ...string) {
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
// directory unique to this test).
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

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
