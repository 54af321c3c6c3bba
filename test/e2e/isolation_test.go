package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The helpers of the isolation tests are prefixed with iso.

// isoLog returns the value after "prefix" in the RUN output lines.
func isoLog(t *testing.T, lines []string, prefix string) string {
	t.Helper()
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	t.Fatalf("no RUN output line starts with %q; output:\n%s", prefix, strings.Join(lines, "\n"))
	return ""
}

func TestIsolationHostFilesProcessesHostname(t *testing.T) {
	secret := fmt.Sprintf("/tmp/strata-host-secret-%d-%d", os.Getpid(), rand.Int64())
	if err := os.WriteFile(secret, []byte("s3cret-content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(secret)
	hostPID := os.Getpid()
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	s := newStrata(t)
	df := "FROM busybox\n" +
		"ARG HOSTPID\n" +
		"RUN test ! -e " + secret + " && echo secret: absent\n" +
		"RUN echo \"pids: $(ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' ')\"; " +
		"echo \"init: $(tr '\\0' ' ' < /proc/1/cmdline)\"; " +
		"if test -e /proc/$HOSTPID; then echo hostpid: visible; else echo hostpid: absent; fi\n" +
		"RUN echo \"hostname: $(hostname)\"\n" +
		"RUN cat /etc/hosts && test -e /etc/resolv.conf && echo hosts: readable\n"
	r := s.must("build", "--progress=plain", "-t", "iso", "--build-arg", "HOSTPID="+strconv.Itoa(hostPID), bldContext(t, df, nil))
	logs := bldLogs(t, r.stderr)

	if got := isoLog(t, logs, "secret: "); got != "absent" {
		t.Errorf("the host file %s is visible in a RUN", secret)
	}
	pids := strings.Fields(isoLog(t, logs, "pids: "))
	// The RUN's shell, its subshell, ls, grep and tr, and the sandbox init.
	if len(pids) == 0 || len(pids) > 10 || !slices.Contains(pids, "1") {
		t.Errorf("ls /proc in a RUN lists pids %v, want a few, 1 among them", pids)
	}
	for _, p := range pids {
		if p == strconv.Itoa(hostPID) {
			t.Errorf("the test process's pid %d is in the RUN's /proc: %v", hostPID, pids)
		}
	}
	if got := isoLog(t, logs, "hostpid: "); got != "absent" {
		t.Errorf("/proc/%d (the test process) exists inside the RUN", hostPID)
	}
	if got := isoLog(t, logs, "init: "); !strings.Contains(got, "strata") {
		t.Errorf("PID 1 in a RUN is %q, want the sandbox init", got)
	}
	if got := isoLog(t, logs, "hostname: "); got == "" || got == hostname {
		t.Errorf("hostname in a RUN is %q; the host's is %q: want a name of its own", got, hostname)
	}
	if got := isoLog(t, logs, "hosts: "); got != "readable" {
		t.Errorf("/etc/hosts or /etc/resolv.conf unreadable in a RUN")
	}

	base := bldExport(t, s, "busybox")
	img := bldExport(t, s, "iso")
	for _, name := range []string{"etc/hosts", "etc/resolv.conf"} {
		if _, inBase := base[name]; inBase {
			t.Fatalf("the busybox base has %s: the test assumes it has not", name)
		}
		if _, ok := img[name]; ok {
			t.Errorf("the built image has %s: the host's file leaked into a layer", name)
		}
	}
	bldNoMounts(t, s)

	r = s.run("build", "--progress=plain", bldContext(t, "FROM busybox\nRUN cat "+secret+"\n", nil))
	if r.code == 0 || strings.Contains(r.stderr, "s3cret-content") {
		t.Errorf("cat of the host file %s in a RUN: exit %d, want a failure; stderr:\n%s", secret, r.code, r.stderr)
	}
	bldNoMounts(t, s)
}

// isoNetDevices returns the interface names of a /proc/net/dev listing.
func isoNetDevices(lines []string) []string {
	var out []string
	for _, l := range lines {
		name, _, ok := strings.Cut(l, ":")
		if !ok || strings.Contains(name, "|") {
			continue // a header line
		}
		out = append(out, strings.TrimSpace(name))
	}
	sort.Strings(out)
	return out
}

func TestIsolationNetwork(t *testing.T) {
	data, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	host := isoNetDevices(strings.Split(string(data), "\n"))
	if len(host) < 2 {
		t.Fatalf("the host has interfaces %v: the test needs one besides lo", host)
	}
	s := newStrata(t)
	ctx := bldContext(t, "FROM busybox\nRUN cat /proc/net/dev\n", nil)
	// The same store for both builds: the network is part of what a RUN
	// depends on, so the second build must not reuse the first one's step.
	r := s.must("build", "--progress=plain", "--network", "none", ctx)
	if got := isoNetDevices(bldLogs(t, r.stderr)); strings.Join(got, " ") != "lo" {
		t.Errorf("--network none: a RUN sees interfaces %v, want only lo", got)
	}
	r = s.must("build", "--progress=plain", ctx)
	if got := isoNetDevices(bldLogs(t, r.stderr)); strings.Join(got, " ") != strings.Join(host, " ") {
		t.Errorf("default (host) network: a RUN sees interfaces %v, want the host's %v\n%s", got, host, r.stderr)
	}
}

// isoProcsWith returns the pids whose command line contains marker.
func isoProcsWith(marker string) []string {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if strings.Contains(strings.ReplaceAll(string(data), "\x00", " "), marker) {
			out = append(out, strings.Split(p, "/")[2])
		}
	}
	return out
}

// isoWaitFor polls cond every 20ms for up to d.
func isoWaitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// isoKillDuringRun starts a build whose RUN sleeps, sends sig to strata once
// the sleep runs, and checks what is left.
func isoKillDuringRun(t *testing.T, sig syscall.Signal) {
	s := newStrata(t)
	// A duration no other test uses, so that the process is surely ours.
	marker := fmt.Sprintf("sleep %d", 100000+rand.IntN(900000))
	ctx := bldContext(t, "FROM busybox\nRUN "+marker+"\n", nil)
	cmd := exec.Command(env.bin, "--root", s.root, "build", "--progress=plain", ctx)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	defer func() {
		select {
		case <-waited:
		default:
			cmd.Process.Kill()
			<-waited
		}
	}()
	running := isoWaitFor(30*time.Second, func() bool {
		select {
		case err := <-waited:
			waited <- err
			return true
		default:
		}
		return len(isoProcsWith(marker)) > 0
	})
	if !running || len(isoProcsWith(marker)) == 0 {
		t.Fatalf("%q never ran", marker)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-waited:
		waited <- err
	case <-time.After(10 * time.Second):
		t.Fatalf("strata still runs 10s after %v", sig)
	}
	if err == nil {
		t.Errorf("strata exited 0 after %v, want a failure; output:\n%s", sig, out.String())
	}
	if !isoWaitFor(5*time.Second, func() bool { return len(isoProcsWith(marker)) == 0 }) {
		t.Errorf("%q still runs (pids %v) after strata got %v", marker, isoProcsWith(marker), sig)
	}
	if !isoWaitFor(5*time.Second, func() bool { return len(mountsUnder(s.root)) == 0 }) {
		t.Errorf("mounts left after %v:\n%s", sig, strings.Join(mountsUnder(s.root), "\n"))
	}
	if sig == syscall.SIGKILL {
		return // strata had no chance to clean ROOT/tmp
	}
	left, err := os.ReadDir(filepath.Join(s.root, "tmp"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if len(names) > 0 {
		t.Errorf("ROOT/tmp holds %v after %v", names, sig)
	}
}

func TestIsolationInterruptedBuild(t *testing.T) {
	isoKillDuringRun(t, syscall.SIGINT)
}

func TestIsolationKilledBuild(t *testing.T) {
	isoKillDuringRun(t, syscall.SIGKILL)
}
