package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// capNetBind is a security.capability value (revision 2) granting
// cap_net_bind_service, as setcap writes it.
var capNetBind = []byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// baseTree is the usual bottom layer of the scenarios.
var baseTree = seq(
	write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
	write("etc/group", "root:x:0:\n"),
	write("etc/hosts.allow", "ALL\n"),
	write("bin/tool", "#!/bin/sh\necho tool\n"),
	link("bin/tool", "bin/tool-alias"),
	symlink("tool", "bin/t"),
	write("var/lib/app/state", "state\n"),
	write("var/lib/app/db/one", "1\n"),
	write("opt/keep", "keep\n"),
	mkdir("empty"),
)

// scenarios are steps run with both snapshotters over the same lowers;
// names are the entries their layer tar must have.
var scenarios = []struct {
	name   string
	layers []func(string) error // setup layers, bottom first
	op     func(string) error
	names  []string
	// nativeNames, when set, are the native layer's entries where it
	// differs from overlay's by design: a lower file's hard links stay
	// links in the native tree, so a change through one name is a change
	// of all (overlayfs breaks the link when it copies one name up).
	nativeNames []string
}{
	{"no change", []func(string) error{baseTree}, func(string) error { return nil }, nil, nil},
	{"new files on an empty root", nil,
		seq(write("a/b/c", "c"), symlink("b/c", "a/l"), mkdir("d"), write("top", "t")),
		[]string{"a", "a/b", "a/b/c", "a/l", "d", "top"}, nil},
	{"modified file", []func(string) error{baseTree}, write("etc/passwd", "root:x:0:0::/root:/bin/bash\n"),
		[]string{"etc", "etc/passwd"}, nil},
	{"same size and old mtime", []func(string) error{baseTree},
		seq(write("etc/group", "ROOT:x:0:\n"), touchOld("etc/group")), []string{"etc", "etc/group"}, nil},
	{"deleted file", []func(string) error{baseTree}, remove("etc/hosts.allow"), []string{"etc", "etc/.wh.hosts.allow"}, nil},
	{"deleted dir", []func(string) error{baseTree}, remove("var/lib/app"), []string{"var", "var/lib", "var/lib/.wh.app"}, nil},
	{"dir deleted and made again", []func(string) error{baseTree},
		seq(remove("var/lib/app"), write("var/lib/app/new", "n")),
		[]string{"var", "var/lib", "var/lib/app", "var/lib/app/.wh..wh..opq", "var/lib/app/new"}, nil},
	{"file replaced by a dir", []func(string) error{baseTree},
		seq(remove("opt/keep"), write("opt/keep/inside", "i")),
		[]string{"opt", "opt/keep", "opt/keep/.wh..wh..opq", "opt/keep/inside"}, nil},
	{"dir replaced by a file", []func(string) error{baseTree},
		seq(remove("var/lib/app"), write("var/lib/app", "file")), []string{"var", "var/lib", "var/lib/app"}, nil},
	{"new hard links", []func(string) error{baseTree},
		seq(write("new/a", "a"), link("new/a", "new/b")), []string{"new", "new/a", "new/b"}, nil},
	{"link to a lower file", []func(string) error{baseTree}, link("etc/passwd", "etc/passwd.bak"),
		[]string{"etc", "etc/passwd", "etc/passwd.bak"}, nil},
	{"one of two links removed", []func(string) error{baseTree}, remove("bin/tool-alias"),
		[]string{"bin", "bin/.wh.tool-alias"}, nil},
	{"xattrs", []func(string) error{baseTree},
		seq(setxattr("etc/group", "user.note", []byte("v")), write("bin/ping", "elf"),
			setxattr("bin/ping", "security.capability", capNetBind), setxattr("empty", "trusted.mark", []byte("m"))),
		[]string{"bin", "bin/ping", "empty", "etc", "etc/group"}, nil},
	{"mode only", []func(string) error{baseTree}, chmod("etc/passwd", 0o600), []string{"etc", "etc/passwd"}, nil},
	{"owner only", []func(string) error{baseTree}, seq(chown("etc/group", 0, 42), chown("bin/t", 7, 7)),
		[]string{"bin", "bin/t", "etc", "etc/group"}, nil},
	{"setuid", []func(string) error{baseTree}, chmod("bin/tool", os.ModeSetuid|0o755),
		[]string{"bin", "bin/tool"}, []string{"bin", "bin/tool", "bin/tool-alias"}},
	{"mtime only", []func(string) error{baseTree}, func(root string) error {
		return os.Chtimes(filepath.Join(root, "opt/keep"), oldTime, oldTime.AddDate(3, 0, 0))
	}, []string{"opt", "opt/keep"}, nil},
	{"symlink retargeted", []func(string) error{baseTree}, seq(remove("bin/t"), symlink("tool-alias", "bin/t")),
		[]string{"bin", "bin/t"}, nil},
	{"special files", []func(string) error{baseTree},
		seq(mkdir("dev"), mknod("dev/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))), mknod("dev/fifo", unix.S_IFIFO|0o600, 0)),
		[]string{"dev", "dev/fifo", "dev/null"}, nil},
	{"renamed file", []func(string) error{baseTree}, rename("opt/keep", "opt/kept"),
		[]string{"opt", "opt/.wh.keep", "opt/kept"}, nil},
	{"deep tree", []func(string) error{baseTree}, write("var/lib/app/db/a/b/c/d/e/f", "deep"),
		[]string{"var", "var/lib", "var/lib/app", "var/lib/app/db", "var/lib/app/db/a", "var/lib/app/db/a/b",
			"var/lib/app/db/a/b/c", "var/lib/app/db/a/b/c/d", "var/lib/app/db/a/b/c/d/e", "var/lib/app/db/a/b/c/d/e/f"}, nil},
	{"lowers with whiteouts and opaque dirs", []func(string) error{
		baseTree,
		seq(remove("etc/group"), remove("var/lib/app"), write("var/lib/app/fresh", "f")),
	}, seq(write("var/lib/app/more", "m"), write("etc/group", "g\n")),
		[]string{"etc", "etc/group", "var", "var/lib", "var/lib/app", "var/lib/app/more"}, nil},
	{"delete what an upper lower made", []func(string) error{
		baseTree,
		seq(remove("var/lib/app"), write("var/lib/app/fresh", "f")),
	}, remove("var/lib/app/fresh"), []string{"var", "var/lib", "var/lib/app", "var/lib/app/.wh.fresh"}, nil},
}

// TestScenarios runs every scenario with both snapshotters and compares
// their layer tars, entry by entry, with each other and with the names
// the scenario expects.
func TestScenarios(t *testing.T) {
	requireRoot(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ov := &Overlay{dir: t.TempDir()}
			var lowers []string // top first
			for _, setup := range sc.layers {
				l := step(t, ov, lowers, setup)
				if err := ageTree(l); err != nil {
					t.Fatal(err)
				}
				lowers = append([]string{l}, lowers...)
			}
			got := map[string][]string{}
			for _, sn := range []struct {
				name string
				s    Snapshotter
			}{{"overlay", ov}, {"native", &Native{dir: t.TempDir()}}} {
				got[sn.name] = tarEntries(t, step(t, sn.s, lowers, sc.op))
			}
			if sc.nativeNames != nil {
				if diff := cmp.Diff(names(got["native"]), sc.nativeNames); diff != "" {
					t.Errorf("native layer entries (-got +want):\n%s", diff)
				}
			} else if diff := cmp.Diff(got["native"], got["overlay"]); diff != "" {
				t.Errorf("native layer differs from overlay's (-native +overlay):\n%s", diff)
			}
			if diff := cmp.Diff(names(got["overlay"]), sc.names, cmpEmpty); diff != "" {
				t.Errorf("overlay layer entries (-got +want):\n%s", diff)
			}
		})
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal(a, b)
})

// TestNativeView checks that a view shows the merged lowers, whiteouts
// applied, read-only.
func TestNativeView(t *testing.T) {
	requireRoot(t)
	ov := &Overlay{dir: t.TempDir()}
	l1 := step(t, ov, nil, baseTree)
	l2 := step(t, ov, []string{l1}, seq(remove("etc/group"), write("etc/new", "n")))
	for _, sn := range []Snapshotter{ov, &Native{dir: t.TempDir()}} {
		v, err := sn.View(context.Background(), []string{l2, l1})
		if err != nil {
			t.Fatal(err)
		}
		target, empty := t.TempDir(), t.TempDir()
		inMountNS(t, func() error {
			m := v.Mount()
			m.Empty = empty
			if err := m.Apply(target); err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(target, "etc/group")); !os.IsNotExist(err) {
				t.Errorf("%T: etc/group: got %v, want not exist", sn, err)
			}
			if b, err := os.ReadFile(filepath.Join(target, "etc/new")); err != nil || string(b) != "n" {
				t.Errorf("%T: etc/new: got %q, %v, want n", sn, b, err)
			}
			if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); err == nil {
				t.Errorf("%T: writing into a view: got no error, want EROFS", sn)
			}
			return nil
		})
		if _, err := sn.Commit(context.Background(), v); err == nil {
			t.Errorf("%T: committing a view: got no error", sn)
		}
		if err := sn.Remove(v); err != nil {
			t.Error(err)
		}
	}
}

// TestNativeViewLinks checks that a native view's regular files are the
// lowers' inodes (no copy: a COPY --from of a large stage costs no copy of
// it), and that removing the view leaves the lowers as they were, while a
// Prepare still copies.
func TestNativeViewLinks(t *testing.T) {
	requireRoot(t)
	sn := &Native{dir: t.TempDir()}
	l1 := step(t, sn, nil, write("big/f", strings.Repeat("x", 1<<20)))
	inode := func(p string) (uint64, uint64) {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino, uint64(st.Nlink)
	}
	lowerIno, lowerLinks := inode(filepath.Join(l1, "big/f"))
	v, err := sn.View(context.Background(), []string{l1})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := inode(filepath.Join(v.Mount().Tree, "big/f")); got != lowerIno {
		t.Errorf("view's big/f: inode %d, want the lower's %d (a link)", got, lowerIno)
	}
	p, err := sn.Prepare(context.Background(), []string{l1})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := inode(filepath.Join(p.Mount().Tree, "big/f")); got == lowerIno {
		t.Errorf("prepared big/f is the lower's inode %d, want a copy a RUN may write", got)
	}
	for _, s := range []*Snapshot{v, p} {
		if err := sn.Remove(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, links := inode(filepath.Join(l1, "big/f")); links != lowerLinks {
		t.Errorf("lower's big/f after the view's removal: %d links, want %d", links, lowerLinks)
	}
	if b, err := os.ReadFile(filepath.Join(l1, "big/f")); err != nil || len(b) != 1<<20 {
		t.Errorf("lower's big/f after the view's removal: %d bytes, %v", len(b), err)
	}
}
