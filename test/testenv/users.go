package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// RootlessUser is the ordinary user strata runs as in the rootless tests
// and the conformance suite's rootless modes; scripts/conformance-rootless.sh
// uses the same one. It has a subordinate id range.
const RootlessUser = "strata-rootless-test"

// UserOptions configure EnsureUser.
type UserOptions struct {
	// Subordinate gives the user a subordinate uid and gid range of 65536
	// ids; without it the user is made with none.
	Subordinate bool
}

// EnsureUser makes the user name if it is missing (and its subordinate
// ranges, with Options.Subordinate, if it lacks them), keeping it for the
// next run, and returns its uid and gid.
func EnsureUser(t testing.TB, name string, opts UserOptions) (uid, gid int) {
	t.Helper()
	for _, tool := range []string{"setpriv", "newuidmap", "newgidmap", "useradd", "usermod"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the rootless tests need %s: apt-get install uidmap util-linux passwd", tool)
		}
	}
	if _, err := exec.Command("id", "-u", name).Output(); err != nil {
		args := []string{"-M", "-s", "/bin/sh"}
		if !opts.Subordinate {
			args = append(args, "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0")
		}
		if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v\n%s", name, err, out)
		}
	}
	if opts.Subordinate {
		sub, _ := os.ReadFile("/etc/subuid")
		subg, _ := os.ReadFile("/etc/subgid")
		if !strings.Contains("\n"+string(sub), "\n"+name+":") || !strings.Contains("\n"+string(subg), "\n"+name+":") {
			start := FreeSubidStart(string(sub) + "\n" + string(subg))
			r := fmt.Sprintf("%d-%d", start, start+65535)
			if out, err := exec.Command("usermod", "--add-subuids", r, "--add-subgids", r, name).CombinedOutput(); err != nil {
				t.Fatalf("usermod --add-subuids %s %s: %v\n%s", r, name, err, out)
			}
		}
	}
	return userID(t, name, "-u"), userID(t, name, "-g")
}

// userID returns id's answer for flag (-u or -g) and name.
func userID(t testing.TB, name, flag string) int {
	t.Helper()
	out, err := exec.Command("id", flag, name).Output()
	if err != nil {
		t.Fatalf("id %s %s: %v", flag, name, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("id %s %s: %q", flag, name, out)
	}
	return n
}

// FreeSubidStart returns the end of the highest range in /etc/subuid and
// /etc/subgid text, or 100000.
func FreeSubidStart(text string) int {
	start := 100000
	for _, line := range strings.Split(text, "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 3 {
			continue
		}
		s, err1 := strconv.Atoi(f[1])
		c, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil && s+c > start {
			start = s + c
		}
	}
	return start
}
