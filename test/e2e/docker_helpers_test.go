package e2e

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

// dockerClientBin is Debian's docker client (package docker.io).
const dockerClientBin = "/usr/bin/docker"

// dockerdBins are where Debian's docker.io puts dockerd (/usr/sbin), and
// where other packagings do.
var dockerdBins = []string{"/usr/sbin/dockerd", "/usr/bin/dockerd"}

// dockerd is a private docker daemon started for one test.
type dockerd struct {
	t      *testing.T
	sock   string // the daemon's unix socket
	config string // DOCKER_CONFIG for the client
}

// startDockerd starts a docker daemon of the test's own: its own data root,
// exec root, pid file and socket, no bridge and no iptables rules, so that it
// touches nothing of the machine's docker. It tries overlay2 first and falls
// back to vfs. The daemon is stopped, and its mounts removed, when the test
// ends.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	bin := ""
	for _, b := range dockerdBins {
		if _, err := os.Stat(b); err == nil {
			bin = b
			break
		}
	}
	if bin == "" {
		t.Fatalf("dockerd not found in %s: run \"apt-get install docker.io\"", strings.Join(dockerdBins, " or "))
	}
	if _, err := os.Stat(dockerClientBin); err != nil {
		t.Fatalf("%s is missing: run \"apt-get install docker.io\" (%v)", dockerClientBin, err)
	}
	// Unix socket paths are limited to 108 bytes, and containerd puts its
	// own sockets under the exec root: keep both short.
	short, err := os.MkdirTemp("/tmp", "strata-dk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	d := &dockerd{t: t, sock: filepath.Join(short, "docker.sock"), config: filepath.Join(short, "client")}
	if err := os.Mkdir(d.config, 0o700); err != nil {
		t.Fatal(err)
	}
	daemonJSON := filepath.Join(short, "daemon.json") // so /etc/docker/daemon.json is not read
	if err := os.WriteFile(daemonJSON, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, driver := range []string{"overlay2", "vfs"} {
		dataRoot := t.TempDir()
		execRoot := filepath.Join(short, "x-"+driver)
		logPath := filepath.Join(short, "dockerd-"+driver+".log")
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin,
			"--data-root", dataRoot,
			"--exec-root", execRoot,
			"--pidfile", filepath.Join(short, "dockerd-"+driver+".pid"),
			"-H", "unix://"+d.sock,
			"--config-file", daemonJSON,
			"--bridge=none", "--iptables=false", "--ip6tables=false",
			"--storage-driver="+driver,
		)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			t.Fatalf("starting %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() { stopDockerd(t, cmd, exited, short, dataRoot, execRoot); logf.Close() }
		if d.waitReady(exited, 60*time.Second) {
			t.Cleanup(stop)
			return d
		}
		stop()
		log, _ := os.ReadFile(logPath)
		logs = append(logs, "--storage-driver="+driver+":\n"+lastLines(string(log), 30))
	}
	t.Fatalf("dockerd did not come up with overlay2 nor vfs:\n%s", strings.Join(logs, "\n"))
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
			if _, _, err := d.exec(nil, "version"); err == nil {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// stopDockerd stops the daemon: SIGTERM, a wait, SIGKILL if need be; then
// kills what it left running under its exec root (containerd and shims
// started for it) and lazily unmounts what is left under its roots.
func stopDockerd(t *testing.T, cmd *exec.Cmd, exited <-chan struct{}, roots ...string) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Logf("dockerd did not stop within 20s of SIGTERM: killing it")
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

// exec runs the docker client against the daemon.
func (d *dockerd) exec(stdin []byte, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerClientBin, append([]string{"-H", "unix://" + d.sock}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+d.config)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// must runs the docker client and fails the test if it fails.
func (d *dockerd) must(args ...string) string {
	d.t.Helper()
	out, errs, err := d.exec(nil, args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errs)
	}
	return out
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
