package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// hosEntry is an entry of a tar a hostile test makes.
type hosEntry struct {
	name, body, link string
	typ              byte
}

// hosTar returns a tar of entries.
func hosTar(t *testing.T, entries ...hosEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body)),
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, e.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hosRawPAX returns a tar of one file, name with body, whose PAX header
// holds the record key=value, however long (archive/tar's writer refuses
// records past 1 MiB).
func hosRawPAX(key, value, name, body string) []byte {
	header := func(name string, typ byte, size int) []byte {
		b := make([]byte, 512)
		copy(b[0:], name)
		copy(b[100:], "0000644\x00")
		copy(b[108:], "0000000\x00")
		copy(b[116:], "0000000\x00")
		copy(b[124:], fmt.Sprintf("%011o\x00", size))
		copy(b[136:], fmt.Sprintf("%011o\x00", 1700000000))
		b[156] = typ
		copy(b[257:], "ustar\x0000")
		copy(b[148:156], "        ")
		sum := 0
		for _, c := range b {
			sum += int(c)
		}
		copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
		return b
	}
	pad := func(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }
	rec := " " + key + "=" + value + "\n"
	n := len(rec) + len(strconv.Itoa(len(rec)))
	if len(strconv.Itoa(n)) != len(strconv.Itoa(len(rec))) {
		n++
	}
	rec = strconv.Itoa(n) + rec
	var out []byte
	out = append(out, header("PaxHeaders/"+name, tar.TypeXHeader, len(rec))...)
	out = append(out, pad([]byte(rec))...)
	out = append(out, header(name, tar.TypeReg, len(body))...)
	out = append(out, pad([]byte(body))...)
	return append(out, make([]byte, 1024)...)
}

// hosNoSecret fails the test if the content secret shows anywhere in the
// exported image ref.
func hosNoSecret(t *testing.T, s *strata, ref, secret string) map[string]storeNode {
	t.Helper()
	tree := storeExportTree(t, s, ref)
	for p, n := range tree {
		if n.SHA256 == storeSHA256([]byte(secret)) {
			t.Errorf("the image holds the host's secret at /%s", p)
		}
	}
	return tree
}

// TestHostileBuildInputs builds from contexts and ADD archives that try to
// reach outside: each either fails with a clear error naming the
// Dockerfile line, or builds an image whose files stay inside it; a secret
// file next to the context never enters an image, and nothing is written
// on the host outside the store.
func TestHostileBuildInputs(t *testing.T) {
	s := newStrata(t)
	base := t.TempDir()
	secret := "TOPSECRET " + base + "\n"
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	escape := "strata-e2e-escape-" + storeRandom(t)
	cases := []struct {
		name   string
		files  map[string]string // context files; "-> target" makes a symlink
		tars   map[string][]byte // context archives
		setup  func(t *testing.T, dir string)
		df     string
		errs   []string // the build fails saying all of these
		check  func(t *testing.T, tree map[string]storeNode)
		runOut string // when set, what RUN printed
	}{
		{
			name:  "symlink to outside named as a source",
			files: map[string]string{"abslink": "-> " + filepath.Join(outside, "secret"), "rellink": "-> ../outside/secret"},
			df:    "FROM busybox\nCOPY abslink /d/\n",
			errs:  []string{"Dockerfile:2", `"abslink": not found in the build context`},
		},
		{
			name:  "relative symlink to outside named as a source",
			files: map[string]string{"rellink": "-> ../outside/secret"},
			df:    "FROM busybox\nCOPY rellink /d/\n",
			errs:  []string{"Dockerfile:2", `"rellink": not found in the build context`},
		},
		{
			name:  "symlinked directory to outside in a source path",
			files: map[string]string{"reldir": "-> ../outside"},
			df:    "FROM busybox\nCOPY reldir/secret /d/\n",
			errs:  []string{"Dockerfile:2", `"reldir/secret": not found in the build context`},
		},
		{
			// The links are copied as links, never what they point to.
			name:  "symlinks to outside inside a copied directory",
			files: map[string]string{"dir/abslink": "-> " + filepath.Join(outside, "secret"), "dir/rellink": "-> ../../outside/secret", "dir/f": "f"},
			df:    "FROM busybox\nCOPY dir /d/\n",
			check: func(t *testing.T, tree map[string]storeNode) {
				for name, want := range map[string]string{"d/abslink": filepath.Join(outside, "secret"), "d/rellink": "../../outside/secret"} {
					if n := tree[name]; n.Type != "symlink" || n.Link != want {
						t.Errorf("/%s = %+v, want a symlink to %s", name, n, want)
					}
				}
			},
		},
		{
			name: "COPY source climbing out with ..",
			df:   "FROM busybox\nCOPY ../outside/secret /d/\n",
			errs: []string{"Dockerfile:2", `"outside/secret": not found in the build context`},
		},
		{
			// As docker: a leading .. stops at the context's root.
			name:  "COPY source with .. stays in the context",
			files: map[string]string{"a.txt": "inside\n"},
			df:    "FROM busybox\nCOPY ../../a.txt /d/a.txt\n",
			check: func(t *testing.T, tree map[string]storeNode) {
				if n := tree["d/a.txt"]; n.SHA256 != storeSHA256([]byte("inside\n")) {
					t.Errorf("/d/a.txt = %+v, want the context's a.txt", n)
				}
			},
		},
		{
			// Device nodes and fifos are copied as nodes; nothing reads them
			// (reading /dev/zero's twin would never end).
			name: "device nodes and a fifo in the context",
			setup: func(t *testing.T, dir string) {
				must := func(err error) {
					if err != nil {
						t.Fatal(err)
					}
				}
				must(os.Mkdir(filepath.Join(dir, "devs"), 0o755))
				must(unix.Mknod(filepath.Join(dir, "devs", "zero"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))))
				must(unix.Mknod(filepath.Join(dir, "devs", "loop"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0))))
				must(unix.Mkfifo(filepath.Join(dir, "devs", "fifo"), 0o644))
			},
			df: "FROM busybox\nCOPY devs /devs/\n",
			check: func(t *testing.T, tree map[string]storeNode) {
				for name, want := range map[string]storeNode{"devs/zero": {Type: "char", Dev: "1:5"}, "devs/loop": {Type: "block", Dev: "7:0"}, "devs/fifo": {Type: "fifo"}} {
					if n := tree[name]; n.Type != want.Type || n.Dev != want.Dev {
						t.Errorf("/%s = %+v, want a %s %s", name, n, want.Type, want.Dev)
					}
				}
			},
		},
		{
			name: "ADD archive with a .. entry",
			tars: map[string][]byte{"evil.tar": hosTar(t, hosEntry{name: "../../" + escape, body: "evil"})},
			df:   "FROM busybox\nADD evil.tar /x/\n",
			errs: []string{"Dockerfile:2", `entry "../../` + escape + `": path escapes the extraction root`},
		},
		{
			name: "ADD archive with an absolute name",
			tars: map[string][]byte{"evil.tar": hosTar(t, hosEntry{name: "/tmp/" + escape, body: "abs"})},
			df:   "FROM busybox\nADD evil.tar /x/\n",
			check: func(t *testing.T, tree map[string]storeNode) {
				if n := tree["x/tmp/"+escape]; n.SHA256 != storeSHA256([]byte("abs")) {
					t.Errorf("/x/tmp/%s = %+v, want the entry under the destination", escape, n)
				}
			},
		},
		{
			name: "ADD archive writing through a symlink to /",
			tars: map[string][]byte{"evil.tar": hosTar(t,
				hosEntry{name: "lnk", typ: tar.TypeSymlink, link: "/"},
				hosEntry{name: "lnk/tmp/" + escape, body: "sym"})},
			df: "FROM busybox\nADD evil.tar /x/\n",
			check: func(t *testing.T, tree map[string]storeNode) {
				if n := tree["x/tmp/"+escape]; n.SHA256 != storeSHA256([]byte("sym")) {
					t.Errorf("/x/tmp/%s = %+v, want the file written through the link inside /x", escape, n)
				}
				if _, ok := tree["tmp/"+escape]; ok {
					t.Errorf("the archive wrote /tmp/%s of the image, outside the destination", escape)
				}
			},
		},
		{
			name: "ADD archive with a hardlink to an absolute host path",
			tars: map[string][]byte{"evil.tar": hosTar(t, hosEntry{name: "hl", typ: tar.TypeLink, link: filepath.Join(outside, "secret")})},
			df:   "FROM busybox\nADD evil.tar /x/\n",
			errs: []string{"Dockerfile:2", `entry "hl": hardlink target`, "is not an earlier entry of this layer"},
		},
		{
			name: "ADD archive with a hardlink climbing out",
			tars: map[string][]byte{"evil.tar": hosTar(t, hosEntry{name: "hl", typ: tar.TypeLink, link: "../../../../../../" + strings.TrimPrefix(filepath.Join(outside, "secret"), "/")})},
			df:   "FROM busybox\nADD evil.tar /x/\n",
			errs: []string{"Dockerfile:2", `entry "hl": hardlink target`, "escapes the extraction root"},
		},
		{
			name: "ADD archive with a 70 kB name",
			tars: map[string][]byte{"evil.tar": hosTar(t, hosEntry{name: strings.Repeat("n", 70000), body: "x"})},
			df:   "FROM busybox\nADD evil.tar /x/\n",
			errs: []string{"Dockerfile:2", "name longer than 4096 bytes"},
		},
		{
			// archive/tar refuses a PAX header over 1 MiB: the file is not a
			// tar to strata, and, as docker does with what it cannot
			// unpack, ADD copies it as it is.
			name: "ADD archive with a 3 MB PAX header",
			tars: map[string][]byte{"evil.tar": hosRawPAX("comment", strings.Repeat("A", 3<<20), "big", "x")},
			df:   "FROM busybox\nADD evil.tar /x/\n",
			check: func(t *testing.T, tree map[string]storeNode) {
				if n := tree["x/evil.tar"]; n.Type != "file" || n.Size < 3<<20 {
					t.Errorf("/x/evil.tar = %+v, want the archive copied as a file", n)
				}
				if _, ok := tree["x/big"]; ok {
					t.Error("the archive was unpacked")
				}
			},
		},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(base, "ctx", strings.ReplaceAll(c.name, " ", "-"))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, content := range c.files {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				var err error
				if target, ok := strings.CutPrefix(content, "-> "); ok {
					err = os.Symlink(target, p)
				} else {
					err = os.WriteFile(p, []byte(content), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			for name, b := range c.tars {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if c.setup != nil {
				c.setup(t, dir)
			}
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(c.df), 0o644); err != nil {
				t.Fatal(err)
			}
			ref := "hostile:" + string(rune('a'+i))
			r := s.run("build", "--progress", "plain", "-t", ref, dir)
			if c.errs != nil {
				if r.code == 0 {
					t.Fatalf("the build succeeded; want it to fail saying %q", c.errs)
				}
				for _, w := range c.errs {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
					}
				}
			} else {
				if r.code != 0 {
					t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
				}
				c.check(t, hosNoSecret(t, s, ref, secret))
			}
			storeAssertTmpEmpty(t, s)
			for _, p := range []string{filepath.Join("/tmp", escape), filepath.Join(base, escape), filepath.Join(filepath.Dir(s.root), escape)} {
				if _, err := os.Lstat(p); err == nil {
					os.Remove(p)
					t.Errorf("%s was written on the host", p)
				}
			}
		})
	}
	relMustFsck(t, s, "after the hostile builds")
}

// TestHostileDecompressionBomb ADDs a 250 kB gzip that expands to 256 MiB
// of zeros into a store on a 48 MB tmpfs: the expansion is bounded by the
// store's space, the build fails naming the step and the full disk, and
// the store stays consistent with nothing left in tmp/.
func TestHostileDecompressionBomb(t *testing.T) {
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=48m,mode=0700"); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	s := &strata{t: t, root: root}
	s.must("import", env.busyboxTar, "busybox:latest")

	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "bomb.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	const size = 256 << 20
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range size / len(zeros) {
		tw.Write(zeros)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()
	fi, _ := os.Stat(f.Name())
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nADD bomb.tar.gz /x/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := s.run("build", "--progress", "plain", "-t", "bomb:1", dir)
	t.Logf("a %d-byte gzip expanding to %d bytes: exit %d after %v: %s", fi.Size(), size, r.code, time.Since(start).Round(time.Millisecond), lastLine(r.stderr))
	if r.code == 0 {
		t.Fatal("the bomb was unpacked into a 48 MB store")
	}
	for _, w := range []string{"Dockerfile:2", "no space left on device"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
		}
	}
	if rep := relMustFsck(t, s, "after the bomb"); rep.Temp != 0 {
		t.Errorf("%d entries left in tmp/", rep.Temp)
	}
}

// TestHostileBasePasswd builds on bases whose /etc/passwd is malformed, a
// directory, or a symlink to a host file: a named USER either resolves from
// a well-formed line or fails saying why, never falls back to root, and
// never reads the host's file; a numeric USER needs no passwd at all.
func TestHostileBasePasswd(t *testing.T) {
	s := newStrata(t)
	hostPasswd := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(hostPasswd, []byte("ghost:x:4242:4242::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := "root:x:0:0:root:/root:/bin/sh\ngarbage line without colons\n::::::::\n\x00\xff\xfe binary junk\n" +
		"nobody:x:notanumber:65534::/:/bin/false\nneg:x:-5:-5::/:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n"
	bases := map[string][]storeTarEntry{
		"garbage":  {{name: "etc/passwd", body: garbage}},
		"longline": {{name: "etc/passwd", body: "root:x:0:0::/:/bin/sh\n" + strings.Repeat("x", 100000) + "\napp:x:1234:1234::/:/bin/sh\n"}},
		"symlink":  {{name: "etc/passwd", typ: tar.TypeSymlink, link: hostPasswd}},
		"dir":      {{name: "etc/passwd", typ: tar.TypeDir}},
	}
	for name, entries := range bases {
		s.must("import", storeHostileTar(t, entries), "pw:"+name)
	}
	cases := []struct {
		base, user string
		id         string   // what `id -u; id -g` prints, when the build succeeds
		errs       []string // else what the error says
	}{
		{"garbage", "app", "1234 1234", nil},
		{"garbage", "root", "0 0", nil},
		{"garbage", "nobody", "", []string{`user "nobody"`, `has the id "notanumber", which is not a number`}},
		{"garbage", "neg", "", []string{`user "neg"`, `has the id "-5"`}},
		{"garbage", "missing", "", []string{`user "missing"`, "no matching entries in passwd file"}},
		{"garbage", "4321:4321", "4321 4321", nil},
		{"longline", "app", "", []string{`user "app"`, "token too long"}},
		{"longline", "77:78", "77 78", nil},
		{"symlink", "ghost", "", []string{`user "ghost"`, "no matching entries in passwd file"}},
		{"symlink", "4242", "4242 0", nil},
		{"dir", "app", "", []string{`user "app"`, "no matching entries in passwd file"}},
	}
	for _, c := range cases {
		t.Run(c.base+"/"+c.user, func(t *testing.T) {
			dir := writeContext(t, map[string]string{"Dockerfile": "FROM pw:" + c.base + "\nUSER " + c.user + "\nRUN echo $(id -u) $(id -g)\n"})
			r := s.run("build", "--progress", "plain", dir)
			if c.errs == nil {
				if r.code != 0 {
					t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
				}
				if !strings.Contains(r.stderr+r.stdout, " "+c.id+"\n") {
					t.Errorf("RUN as %s did not print %q:\n%s", c.user, c.id, r.stderr)
				}
				return
			}
			if r.code == 0 {
				t.Fatalf("the build succeeded; want it to fail saying %q\n%s", c.errs, r.stderr)
			}
			for _, w := range append([]string{"Dockerfile:3"}, c.errs...) {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}
