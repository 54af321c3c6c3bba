package conformance

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/test/testenv"
)

// rootlessUser is the user, its home for this run (HOME; each rootless
// mode's store is under XDG_DATA_HOME=home/data-<mode>) and the copy of
// strata it runs.
type rootlessUser struct {
	uid, gid  int
	home, bin string
}

// newRootlessUser makes the user, with a subordinate uid and gid range of
// 65536 ids, if it is missing, and a home for this run holding a copy of
// bin.
func newRootlessUser(t *testing.T, bin string) *rootlessUser {
	t.Helper()
	uid, gid := testenv.EnsureUser(t, testenv.RootlessUser, testenv.UserOptions{Subordinate: true})
	u := &rootlessUser{uid: uid, gid: gid}
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
			return fmt.Errorf("giving %s to %s: %w", p, testenv.RootlessUser, err)
		}
		if err := os.Lchown(p, u.uid, u.gid); err != nil {
			return fmt.Errorf("giving %s to %s: %w", p, testenv.RootlessUser, err)
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
