package conformance

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The harness's own parts, against outputs of the shared Python harness
// (treesum.py, imgconfig.py, mkbusybox.py) for the same inputs.

// manifestTestTar is a filesystem tar stream with each kind of entry the
// manifest treats specially.
func manifestTestTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	old, later := time.Unix(1577836800, 0), time.Unix(1800000000, 0)
	for _, e := range []struct {
		h    tar.Header
		data string
	}{
		{tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: old}, ""},
		{tar.Header{Name: "./.dockerenv", Typeflag: tar.TypeReg, Mode: 0o755, ModTime: old}, ""},
		{tar.Header{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: old}, ""},
		{tar.Header{Name: "./etc/hosts", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: old}, "127.0.0.1 x\n"},
		{tar.Header{Name: "./dev/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: old}, ""},
		{tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: old}, ""},
		{tar.Header{Name: "./srv/", Typeflag: tar.TypeDir, Mode: 0o1777, Uid: 5, Gid: 6, ModTime: old}, ""},
		{tar.Header{Name: "./srv/b", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Gid: 50, ModTime: old,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20", "SCHILY.xattr.user.note": "x"}}, "hello\n"},
		{tar.Header{Name: "./srv/a", Typeflag: tar.TypeLink, Linkname: "srv/b", ModTime: later}, ""},
		{tar.Header{Name: "./srv/c", Typeflag: tar.TypeLink, Linkname: "./srv/a", ModTime: later}, ""},
		{tar.Header{Name: "./srv/gone", Typeflag: tar.TypeLink, Linkname: "srv/nothere", ModTime: later}, ""},
		{tar.Header{Name: "./srv/new", Typeflag: tar.TypeReg, Mode: 0o600, ModTime: later}, "new"},
		{tar.Header{Name: "./srv/l", Typeflag: tar.TypeSymlink, Linkname: "../x/\"q\"", Mode: 0o777, ModTime: old}, ""},
		{tar.Header{Name: "./srv/fifo", Typeflag: tar.TypeFifo, Mode: 0o2640, ModTime: old}, ""},
		{tar.Header{Name: "./srv/blk", Typeflag: tar.TypeBlock, Mode: 0o600, Devmajor: 7, Devminor: 200, ModTime: old}, ""},
		{tar.Header{Name: "./srv/ünï 日本\t\n.txt", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: old}, "u"},
		{tar.Header{Name: "./srv/bad\xff\xfe", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: old}, "b"},
		{tar.Header{Name: "./srv/emoji-\U0001F600", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: old}, ""},
		{tar.Header{Name: "./var/log/x.log", Typeflag: tar.TypeReg, Mode: 0o640, ModTime: old}, "log"},
		{tar.Header{Name: "./skip/me", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: old}, "s"},
		{tar.Header{Name: "./srv/new", Typeflag: tar.TypeReg, Mode: 0o640, ModTime: later}, "newer"},
	} {
		h := e.h
		h.Size, h.Format = int64(len(e.data)), tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestManifest(t *testing.T) {
	// want: treesum.py --before 1700000000 --xattr-filter '^security\.capability$'
	// --volatile '^/var/log/' --exclude '^/skip/' on the same stream.
	want := []string{
		`{"path": "/srv", "type": "dir", "mode": "1777", "uid": 5, "gid": 6}`,
		`{"path": "/srv/a", "type": "file", "mode": "4755", "uid": 1000, "gid": 50, "size": 6, "sha256": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", "link": "/srv/a", "xattrs": {"security.capability": "AQAAAgAg"}, "mtime": 1577836800}`,
		`{"path": "/srv/b", "type": "file", "mode": "4755", "uid": 1000, "gid": 50, "size": 6, "sha256": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", "link": "/srv/a", "xattrs": {"security.capability": "AQAAAgAg"}, "mtime": 1577836800}`,
		`{"path": "/srv/bad\udcff\udcfe", "type": "file", "mode": "0644", "uid": 0, "gid": 0, "size": 1, "sha256": "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d", "mtime": 1577836800}`,
		`{"path": "/srv/blk", "type": "block", "mode": "0600", "uid": 0, "gid": 0, "major": 7, "minor": 200, "mtime": 1577836800}`,
		`{"path": "/srv/c", "type": "file", "mode": "4755", "uid": 1000, "gid": 50, "size": 6, "sha256": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", "link": "/srv/a", "xattrs": {"security.capability": "AQAAAgAg"}, "mtime": 1577836800}`,
		`{"path": "/srv/emoji-\ud83d\ude00", "type": "file", "mode": "0644", "uid": 0, "gid": 0, "size": 0, "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "mtime": 1577836800}`,
		`{"path": "/srv/fifo", "type": "fifo", "mode": "2640", "uid": 0, "gid": 0, "mtime": 1577836800}`,
		`{"path": "/srv/gone", "type": "hardlink-to-missing", "target": "/srv/nothere"}`,
		`{"path": "/srv/l", "type": "symlink", "uid": 0, "gid": 0, "target": "../x/\"q\"", "mtime": 1577836800}`,
		`{"path": "/srv/new", "type": "file", "mode": "0640", "uid": 0, "gid": 0, "size": 5, "sha256": "804f51f71254c4081e37e7c887073560f4a6fa6cdad202e9ac67e032c43ed1e1"}`,
		`{"path": "/srv/\u00fcn\u00ef \u65e5\u672c\t\n.txt", "type": "file", "mode": "0644", "uid": 0, "gid": 0, "size": 1, "sha256": "0bfe935e70c321c7ca3afc75ce0d0ca2f98b5422e008bb31c00c6d7f1f1c0ad6", "mtime": 1577836800}`,
		`{"path": "/var/log/x.log", "type": "file", "mode": "0640", "uid": 0, "gid": 0}`,
	}
	got, err := readManifest(bytes.NewReader(manifestTestTar(t)), manifestOptions{
		Before:      1700000000,
		XattrFilter: regexp.MustCompile(`^security\.capability$`),
		Volatile:    []*regexp.Regexp{regexp.MustCompile(`^/var/log/`)},
		Exclude:     []*regexp.Regexp{regexp.MustCompile(`^/skip/`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("manifest (-got +want):\n%s", d)
	}
}

func TestManifestBadTar(t *testing.T) {
	data := manifestTestTar(t)
	if _, err := readManifest(bytes.NewReader(data[:700]), manifestOptions{}); err == nil {
		t.Fatal("a truncated tar stream gave no error")
	}
}

func TestConfigLines(t *testing.T) {
	// want: imgconfig.py --section strict on the same input.
	tests := []struct {
		name, input string
		want        []string
	}{
		{
			name:  "docker inspect",
			input: `[{"Id":"sha256:abc","Author":"Jane <j@x>","Os":"linux","Architecture":"amd64","Config":{"Env":["PATH=/usr/bin","Z=ü"],"Cmd":null,"Entrypoint":["/bin/sh","-c","echo \"hi\" <&>"],"Shell":[],"WorkingDir":"","User":"app","ExposedPorts":{"80/tcp":{},"53/udp":{}},"Volumes":{"/data":{}},"Labels":{"b":"2","a":"1"},"StopSignal":"SIGTERM","Healthcheck":{"Test":["CMD","true"],"Interval":0,"Timeout":3000000000,"Retries":0,"StartPeriod":0},"OnBuild":null},"RootFS":{"Type":"layers","Layers":["sha256:1","sha256:2"]}}]`,
			want: []string{
				`Env: ["PATH=/usr/bin","Z=\u00fc"]`,
				`Entrypoint: ["/bin/sh","-c","echo \"hi\" <&>"]`,
				`User: "app"`,
				`ExposedPorts: {"53/udp":{},"80/tcp":{}}`,
				`Volumes: {"/data":{}}`,
				`Labels: {"a":"1","b":"2"}`,
				`StopSignal: "SIGTERM"`,
				`Healthcheck: {"Test":["CMD","true"],"Timeout":3000000000}`,
				`Author: "Jane <j@x>"`,
				`Os: "linux"`,
				`Architecture: "amd64"`,
				`layers: 2`,
			},
		},
		{
			name:  "OCI config blob",
			input: `{"architecture":"arm64","os":"linux","config":{"Cmd":["sh"],"Healthcheck":{"Test":["NONE"]}},"rootfs":{"type":"layers","diff_ids":["sha256:1"]}}`,
			want:  []string{`Cmd: ["sh"]`, `Healthcheck: {"Test":["NONE"]}`, `Os: "linux"`, `Architecture: "arm64"`, `layers: 1`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configLines([]byte(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(got, tt.want); d != "" {
				t.Errorf("config lines (-got +want):\n%s", d)
			}
		})
	}
}

func TestConfigLinesErrors(t *testing.T) {
	for _, input := range []string{`[]`, `[{},{}]`, `{"foo":1}`, `"x"`, `not json`} {
		t.Run(input, func(t *testing.T) {
			if got, err := configLines([]byte(input)); err == nil {
				t.Errorf("configLines(%s) = %q, want an error", input, got)
			}
		})
	}
}

func TestBusyboxTar(t *testing.T) {
	// want: the sha256 of mkbusybox.py's tarball for the same binary and
	// applet list.
	var buf bytes.Buffer
	applets := []string{"bin/busybox", "/bin/sh", "sbin/init", "usr/bin/env", "usr/local/bin/x", "toplevel"}
	if err := writeBusyboxTar(&buf, []byte("not really busybox\n"), applets); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if got, want := hex.EncodeToString(sum[:]), "3998036e66335b1ca6ab4479f60e5c25d4c3eb7c6241a185b1435cb127c44867"; got != want {
		t.Errorf("busybox tarball sha256 = %s, want %s", got, want)
	}
	// The real busybox: twice the same bytes.
	dir := t.TempDir()
	for _, n := range []string{"a.tar", "b.tar"} {
		if err := makeBusyboxTar(context.Background(), "/bin/busybox", filepath.Join(dir, n)); err != nil {
			t.Fatalf("making the busybox tarball (apt-get install busybox-static): %v", err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dir, "a.tar"))
	b, _ := os.ReadFile(filepath.Join(dir, "b.tar"))
	if !bytes.Equal(a, b) || len(a) == 0 {
		t.Errorf("two busybox tarballs of the same binary differ (%d and %d bytes)", len(a), len(b))
	}
}

func TestLoadCase(t *testing.T) {
	tests := []struct {
		name, env string
		want      *caseSpec // nil: an error
		wantErr   string
	}{
		{
			name: "all fields",
			env: `BUILD_ARGS="--build-arg A=1 --build-arg 'B=with space'"
TARGET=mid
DOCKERFILE=sub/Dockerfile
PARENT=p PARENT_TAG=x/parent:1 PARENT_BUILD_ARGS="--build-arg P=2"
EXTRA_TAGS="a:1 b/c:2"
EXPECT_FAIL=1
BASES="debian"
ROOTLESS_SKIP="mknod of devices"
INPUT=tar.gz
DESCRIPTION="d"`,
			want: &caseSpec{buildArgs: []string{"--build-arg", "A=1", "--build-arg", "B=with space"},
				parentBuildArgs: []string{"--build-arg", "P=2"}, target: "mid", dockerfile: "sub/Dockerfile",
				parent: "p", parentTag: "x/parent:1", extraTags: []string{"a:1", "b/c:2"}, expectFail: true,
				bases: []string{"debian"}, rootlessSkip: "mknod of devices", input: "tar.gz"},
		},
		{name: "misspelt variable", env: "VOLATLE='^/x'\n", wantErr: "unknown variable VOLATLE"},
		{name: "parent without tag", env: "PARENT=p\n", wantErr: "PARENT and PARENT_TAG go together"},
		{name: "bad regexp", env: "EXCLUDE='('\n", wantErr: "EXCLUDE is not a regular expression"},
		{name: "bad flag", env: "EXPECT_FAIL=yes\n", wantErr: `EXPECT_FAIL="yes": use 1 or 0`},
		{name: "unknown base", env: "BASES=alpine\n", wantErr: `unknown base "alpine"`},
		{name: "unknown input", env: "INPUT=zip\n", wantErr: `INPUT="zip": use tar, tar.gz`},
		{name: "bash error", env: "BUILD_ARGS='\"unterminated'\n", wantErr: "sourcing with bash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "c")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox:conformance\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "case.env"), []byte(tt.env), 0o644)
			got, err := loadCase(context.Background(), dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadCase: error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.name, tt.want.dir = "c", dir
			if d := cmp.Diff(got, tt.want, cmp.AllowUnexported(caseSpec{}), cmp.Comparer(func(a, b *regexp.Regexp) bool {
				return (a == nil) == (b == nil) && (a == nil || a.String() == b.String())
			})); d != "" {
				t.Errorf("case (-got +want):\n%s", d)
			}
		})
	}
}

func TestLoadCaseBasesAndGolden(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM debian:bookworm\nCOPY --from=busybox:conformance /bin/busybox /\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "expect.jsonl"), []byte("{}\n"), 0o644)
	got, err := loadCase(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got.bases, []string{"busybox", "debian"}); d != "" {
		t.Errorf("bases (-got +want):\n%s", d)
	}
	if !got.golden {
		t.Error("a case with expect.jsonl is not golden")
	}
}

func TestDiffLines(t *testing.T) {
	want := []string{`{"path": "/a", "type": "dir"}`, `{"path": "/b", "type": "file", "size": 1}`, `{"path": "/c", "type": "file"}`}
	have := []string{`{"path": "/a", "type": "dir"}`, `{"path": "/b", "type": "file", "size": 2}`, `{"path": "/d", "type": "file"}`}
	got := diffLines("filesystem", "docker", "strata", want, have, 3)
	wantText := `  filesystem differs (4 lines; - docker, + strata):
    -{"path": "/b", "type": "file", "size": 1}
    +{"path": "/b", "type": "file", "size": 2}
    -{"path": "/c", "type": "file"}
    ... 1 more
`
	if d := cmp.Diff(got, wantText); d != "" {
		t.Errorf("diff (-got +want):\n%s", d)
	}
	if got := diffLines("config", "a", "b", want, want, 3); got != "" {
		t.Errorf("equal lines gave a diff: %q", got)
	}
}

func TestKeyedMutex(t *testing.T) {
	k := newKeyedMutex()
	unlockA := k.lock([]string{"", "a:1"})
	// Cases without fixed tags (key "") never wait for each other.
	done := make(chan struct{})
	go func() {
		k.lock([]string{""})()
		k.lock([]string{"", "b:1"})()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a case without fixed tags waited for another case")
	}
	got := make(chan struct{})
	go func() {
		k.lock([]string{"a:1"})()
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("two cases held the tag a:1 at once")
	case <-time.After(100 * time.Millisecond):
	}
	unlockA()
	<-got
}

func TestSortSlowFirst(t *testing.T) {
	cases := []*caseSpec{{name: "a", bases: []string{"busybox"}}, {name: "b", bases: []string{"debian"}},
		{name: "c"}, {name: "d", bases: []string{"busybox", "debian"}}}
	sortSlowFirst(cases)
	var got []string
	for _, c := range cases {
		got = append(got, c.name)
	}
	if d := cmp.Diff(got, []string{"b", "d", "a", "c"}); d != "" {
		t.Errorf("order (-got +want):\n%s", d)
	}
}

func TestSidesForNativeCases(t *testing.T) {
	s := &suite{sides: []side{
		&strataSide{mode: "root", snapshotter: "overlay"},
		&strataSide{mode: "native", snapshotter: "native"},
		&strataSide{mode: "rootless-native", snapshotter: "native", user: &rootlessUser{}},
	}}
	modes := func(c string) []string {
		var out []string
		for _, sd := range s.sidesFor(&caseSpec{name: c}) {
			out = append(out, modeOf(sd))
		}
		return out
	}
	if d := cmp.Diff(modes("x"), []string{"root", "native", "rootless-native"}); d != "" {
		t.Errorf("without a list (-got +want):\n%s", d)
	}
	s.nativeCases = map[string]bool{"listed": true}
	if d := cmp.Diff(modes("x"), []string{"root"}); d != "" {
		t.Errorf("a case the list leaves out (-got +want):\n%s", d)
	}
	if d := cmp.Diff(modes("listed"), []string{"root", "native", "rootless-native"}); d != "" {
		t.Errorf("a listed case (-got +want):\n%s", d)
	}
}

func TestReadCaseList(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, text string
		want       map[string]bool // nil: an error
	}{
		{"names and comments", "# why\nwhiteouts\n\n  hardlinks  \n#x\n", map[string]bool{"whiteouts": true, "hardlinks": true}},
		{"only comments", "# nothing\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "list")
			os.WriteFile(p, []byte(tt.text), 0o644)
			got, err := readCaseList(p)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("readCaseList: %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(got, tt.want); d != "" {
				t.Errorf("names (-got +want):\n%s", d)
			}
		})
	}
	if _, err := readCaseList(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing list gave no error")
	}
}
