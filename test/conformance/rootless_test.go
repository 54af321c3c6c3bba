package conformance

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// rootlessName is the ordinary user strata runs as in rootless mode; the
// e2e tests and scripts/conformance-rootless.sh use the same one.
const rootlessName = "strata-rootless-test"

// rootlessUser is the user, its home for this run (HOME, XDG_DATA_HOME=
// home/data: its store) and the copy of strata it runs.
type rootlessUser struct {
	uid, gid  int
	home, bin string
}

// newRootlessUser makes the user, with a subordinate uid and gid range of
// 65536 ids, if it is missing, and a home for this run holding a copy of
// bin.
func newRootlessUser(t *testing.T, bin string) *rootlessUser {
	t.Helper()
	for _, tool := range []string{"setpriv", "newuidmap", "newgidmap", "useradd", "usermod"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("rootless mode needs %s: apt-get install uidmap util-linux passwd", tool)
		}
	}
	if _, err := exec.Command("id", "-u", rootlessName).Output(); err != nil {
		if out, err := exec.Command("useradd", "-M", "-s", "/bin/sh", rootlessName).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v\n%s", rootlessName, err, out)
		}
	}
	sub, _ := os.ReadFile("/etc/subuid")
	subg, _ := os.ReadFile("/etc/subgid")
	if !strings.Contains("\n"+string(sub), "\n"+rootlessName+":") || !strings.Contains("\n"+string(subg), "\n"+rootlessName+":") {
		start := freeSubidStart(string(sub) + "\n" + string(subg))
		r := fmt.Sprintf("%d-%d", start, start+65535)
		if out, err := exec.Command("usermod", "--add-subuids", r, "--add-subgids", r, rootlessName).CombinedOutput(); err != nil {
			t.Fatalf("usermod --add-subuids %s %s: %v\n%s", r, rootlessName, err, out)
		}
	}
	u := &rootlessUser{uid: userID(t, "-u"), gid: userID(t, "-g")}
	home, err := os.MkdirTemp("", "strata-conformance-rl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	u.home, u.bin = home, filepath.Join(home, "strata")
	if err := copyFile(bin, u.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := u.own(home); err != nil {
		t.Fatal(err)
	}
	return u
}

func userID(t *testing.T, flag string) int {
	t.Helper()
	out, err := exec.Command("id", flag, rootlessName).Output()
	if err != nil {
		t.Fatalf("id %s %s: %v", flag, rootlessName, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("id %s %s: %q", flag, rootlessName, out)
	}
	return n
}

// freeSubidStart returns the end of the highest range in subuid/subgid
// text, or 100000.
func freeSubidStart(text string) int {
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

// readable returns path if the user can read it where it is, else a copy
// in the user's home.
func (u *rootlessUser) readable(t *testing.T, path string) string {
	t.Helper()
	ok := true
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm()&0o004 == 0 {
		ok = false
	}
	for d := filepath.Dir(path); ok && d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			ok = false
		}
	}
	if ok {
		return path
	}
	dst := filepath.Join(u.home, filepath.Base(path))
	if err := copyFile(path, dst, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// own gives the tree at dir to the user, as a rootless user builds contexts
// of their own, keeping every mode: chown clears setuid and setgid bits,
// which are put back, and mtimes do not change.
func (u *rootlessUser) own(dir string) error {
	return filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("giving %s to %s: %w", p, rootlessName, err)
		}
		if err := os.Lchown(p, u.uid, u.gid); err != nil {
			return fmt.Errorf("giving %s to %s: %w", p, rootlessName, err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		if err := unix.Chmod(p, st.Mode&0o7777); err != nil {
			return fmt.Errorf("restoring the mode of %s: %w", p, err)
		}
		return nil
	})
}

// copyFile copies src to dst with mode.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Close()
}
