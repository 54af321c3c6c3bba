package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunDockerFlags: strata run's -v, --mount (bind and tmpfs), --tmpfs,
// --read-only, HOSTNAME, --hostname/--name, --init, -p, --user and
// --workdir, each as docker run does them.
func TestRunDockerFlags(t *testing.T) {
	s := newStrata(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "made-by-v")
	tests := []struct {
		name string
		args []string
		want string // regexp of the whole stdout
	}{
		{"-v rw", []string{"-v", host + ":/h", "busybox", "sh", "-c", "cat /h/in; echo out > /h/out"}, `^from-host\n$`},
		{"-v :ro", []string{"-v", host + ":/h:ro", "busybox", "sh", "-c", "cat /h/in; touch /h/x 2>/dev/null || echo ro"}, `^from-host\nro\n$`},
		{"-v makes the host dir", []string{"-v", fresh + ":/f", "busybox", "sh", "-c", "echo made > /f/m"}, `^$`},
		{"--mount bind readonly", []string{"--mount", "type=bind,source=" + host + ",target=/m,readonly", "busybox", "sh", "-c", "cat /m/in; touch /m/x 2>/dev/null || echo ro"}, `^from-host\nro\n$`},
		{"--mount tmpfs", []string{"--mount", "type=tmpfs,target=/t,tmpfs-size=1m", "busybox", "sh", "-c", "grep ' /t ' /proc/mounts | cut -d' ' -f3; df -k /t | tail -1 | awk '{print $2}'"}, `^tmpfs\n1024\n$`},
		{"--tmpfs", []string{"--tmpfs", "/run/x:size=2m", "busybox", "sh", "-c", "echo a > /run/x/a && grep ' /run/x ' /proc/mounts | cut -d' ' -f3"}, `^tmpfs\n$`},
		{"--read-only", []string{"--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c", "touch /x 2>/dev/null || echo ro; echo w > /scratch/w && echo tmpfs-rw; cat /etc/hosts >/dev/null && echo hosts"}, `^ro\ntmpfs-rw\nhosts\n$`},
		{"HOSTNAME is a container ID", []string{"busybox", "sh", "-c", `echo "$HOSTNAME"; hostname; grep -c "$(hostname)" /etc/hosts`}, `^([0-9a-f]{12})\n([0-9a-f]{12})\n1\n$`},
		{"--hostname", []string{"--hostname", "box1", "busybox", "sh", "-c", `echo "$HOSTNAME $(hostname)"`}, `^box1 box1\n$`},
		{"--name names the host", []string{"--name", "web", "busybox", "hostname"}, `^web\n$`},
		{"-e HOSTNAME wins", []string{"-e", "HOSTNAME=mine", "busybox", "sh", "-c", `echo "$HOSTNAME"`}, `^mine\n$`},
		{"--init: the sandbox init is PID 1", []string{"--init", "busybox", "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; sleep 0 & wait; echo reaped"}, `^strata-sandbox \nreaped\n$`},
		{"-p with the host network", []string{"-p", "8080:80", "busybox", "echo", "ok"}, `^ok\n$`},
		{"--user --workdir", []string{"--user", "65534", "--workdir", "/tmp/wd", "busybox", "sh", "-c", "id -u; pwd"}, `^65534\n/tmp/wd\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.must(append([]string{"run", "--rm"}, tt.args...)...)
			m := regexp.MustCompile(tt.want).FindStringSubmatch(r.stdout)
			if m == nil {
				t.Fatalf("stdout %q does not match %q; stderr %q", r.stdout, tt.want, r.stderr)
			}
			if len(m) == 3 && m[1] != m[2] {
				t.Errorf("HOSTNAME %s is not the host name %s", m[1], m[2])
			}
			if tt.args[0] == "-p" && !strings.Contains(r.stderr, "Published ports are discarded when using host network mode") {
				t.Errorf("-p with the host network: no warning: %q", r.stderr)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(b) != "out\n" {
		t.Errorf("-v rw: the host file: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(fresh, "m")); err != nil || string(b) != "made\n" {
		t.Errorf("-v of a missing host dir: %q, %v", b, err)
	}
	a := s.must("run", "--rm", "busybox", "hostname").stdout
	if b := s.must("run", "--rm", "busybox", "hostname").stdout; a == b {
		t.Errorf("two containers share the host name %q", a)
	}
}
