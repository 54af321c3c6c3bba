package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-build/strata/test/testenv"
)

// The users the rootless tests make (and keep, for the next run): one with
// subordinate id ranges, one without.
const (
	rlUser      = testenv.RootlessUser
	rlUserNoSub = "strata-rootless-nosub"
)

// rlStrata is a store of an unprivileged user, driven through setpriv.
type rlStrata struct {
	t        *testing.T
	uid, gid int
	home     string // owned by the user: HOME, XDG_DATA_HOME=home/data
	bin      string // a copy of strata the user can run
}

// newRootless returns a fresh store of the user name, in a directory of its
// own (the e2e temporary directory is root's alone), with copies of strata
// and the busybox tarball it can read.
func newRootless(t *testing.T, name string, opts testenv.UserOptions) *rlStrata {
	t.Helper()
	uid, gid := testenv.EnsureUser(t, name, opts)
	home, err := os.MkdirTemp("", "strata-rootless-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	s := &rlStrata{t: t, uid: uid, gid: gid, home: home, bin: filepath.Join(home, "strata")}
	rlCopy(t, env.bin, s.bin, 0o755)
	rlCopy(t, env.busyboxTar, filepath.Join(home, "busybox.tar"), 0o644)
	if err := os.Chmod(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := filepath.Walk(home, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func rlCopy(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// run runs strata as the user, with a clean environment (but for
// SOURCE_DATE_EPOCH).
func (s *rlStrata) run(args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	argv := []string{
		"--reuid=" + strconv.Itoa(s.uid), "--regid=" + strconv.Itoa(s.gid), "--clear-groups",
		"env", "-i", "HOME=" + s.home, "XDG_DATA_HOME=" + filepath.Join(s.home, "data"),
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
	}
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		argv = append(argv, "SOURCE_DATE_EPOCH="+v)
	}
	argv = append(argv, s.bin)
	cmd := exec.CommandContext(ctx, "setpriv", append(argv, args...)...)
	cmd.Dir = s.home
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			s.t.Fatalf("running strata %s as uid %d: %v", strings.Join(args, " "), s.uid, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

func (s *rlStrata) must(args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("rootless strata %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// rlEntry is what the comparison of two layers looks at.
type rlEntry struct {
	Name, Link, Digest string
	Type               byte
	Mode               int64
	UID, GID           int
	Xattrs             string
}

// rlLayerEntries reads the layer blob (stored uncompressed, digest = diff_id)
// of diffID from the store at root.
func rlLayerEntries(t *testing.T, root, diffID string) []rlEntry {
	t.Helper()
	hex := strings.TrimPrefix(diffID, "sha256:")
	f, err := os.Open(filepath.Join(root, "blobs", "sha256", hex))
	if err != nil {
		t.Fatalf("opening layer %s: %v", diffID, err)
	}
	defer f.Close()
	var out []rlEntry
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading layer %s: %v", diffID, err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, tr); err != nil {
			t.Fatalf("reading layer %s: %v", diffID, err)
		}
		var xs []string
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				xs = append(xs, k+"="+v)
			}
		}
		out = append(out, rlEntry{
			Name: hdr.Name, Link: hdr.Linkname, Digest: rlHex(h.Sum(nil)), Type: hdr.Typeflag,
			Mode: hdr.Mode, UID: hdr.Uid, GID: hdr.Gid, Xattrs: strings.Join(xs, ","),
		})
	}
}

func rlHex(b []byte) string { return hex.EncodeToString(b)[:16] }

func rlLayers(t *testing.T, inspectJSON string) []string {
	t.Helper()
	var layers []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(inspectJSON)), &layers); err != nil {
		t.Fatalf("decoding layers %q: %v", inspectJSON, err)
	}
	return layers
}

const rlDockerfile = `FROM busybox
RUN mkdir -p /data/sub /made && echo hi > /data/sub/f && echo x > /owned && chown 1000:1000 /owned && chmod 4755 /owned \
 && ln /owned /hard && chown 65534:65534 /made && mkfifo /made/fifo && rm /etc/group
RUN rm -rf /data && mkdir /data && echo new > /data/g && chown -R 1000:50 /data
CMD ["sh"]
`

// TestRootlessBuildMatchesRoot builds the same Dockerfile (a file chowned to
// 1000, setuid, a hardlink, a fifo, a whiteout, an opaque directory) as root
// and as an ordinary user with SOURCE_DATE_EPOCH, and wants identical layers:
// the same diff_ids, the same entries (names, types, modes, owners, link
// targets, contents, xattrs), owners as the RUN set them, not the host's
// mapped ids.
func TestRootlessBuildMatchesRoot(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"Dockerfile": rlDockerfile})
	root := newStrata(t)
	// With SOURCE_DATE_EPOCH the layers must be identical to the byte.
	const epoch = "--build-arg=SOURCE_DATE_EPOCH=1700000000"
	root.must("build", "--no-cache", epoch, "-t", "rl:test", ctxDir)
	rootLayers := rlLayers(t, root.must("inspect", "--format", "{{json .RootFS.Layers}}", "rl:test").stdout)

	u := newRootless(t, rlUser, testenv.UserOptions{Subordinate: true})
	userCtx := filepath.Join(u.home, "ctx")
	if err := os.Mkdir(userCtx, 0o755); err != nil {
		t.Fatal(err)
	}
	rlCopy(t, filepath.Join(ctxDir, "Dockerfile"), filepath.Join(userCtx, "Dockerfile"), 0o644)
	u.must("import", "busybox.tar", "busybox:latest")
	u.must("build", "--no-cache", epoch, "-t", "rl:test", "ctx")
	userLayers := rlLayers(t, u.must("inspect", "--format", "{{json .RootFS.Layers}}", "rl:test").stdout)

	userStore := filepath.Join(u.home, "data", "strata")
	if len(userLayers) != len(rootLayers) || len(rootLayers) != 3 {
		t.Fatalf("layers: rootless %v, root %v; want 3 each", userLayers, rootLayers)
	}
	for i := range rootLayers {
		got := rlLayerEntries(t, userStore, userLayers[i])
		want := rlLayerEntries(t, root.root, rootLayers[i])
		if d := cmp.Diff(got, want); d != "" {
			t.Errorf("layer %d: rootless entries differ from root's (-rootless +root):\n%s", i, d)
		}
	}
	if d := cmp.Diff(userLayers, rootLayers); d != "" {
		t.Errorf("diff_ids of the reproducible builds: rootless differs from root (-rootless +root):\n%s", d)
	}

	// The facts the comparison rests on, in the rootless layers.
	byName := map[string]rlEntry{}
	for _, e := range append(rlLayerEntries(t, userStore, userLayers[1]), rlLayerEntries(t, userStore, userLayers[2])...) {
		byName[e.Name] = e
	}
	for name, want := range map[string]string{
		"owned":             "1000:1000",
		"made/":             "65534:65534",
		"etc/.wh.group":     "0:0",
		"data/":             "1000:50",
		"data/.wh..wh..opq": "0:0",
		"data/g":            "1000:50",
	} {
		e, ok := byName[name]
		if !ok {
			t.Errorf("rootless layers have no entry %s", name)
			continue
		}
		if got := fmt.Sprintf("%d:%d", e.UID, e.GID); got != want {
			t.Errorf("%s owned by %s, want %s", name, got, want)
		}
	}
	if e := byName["owned"]; e.Mode&0o4000 == 0 {
		t.Errorf("owned: mode %o lost its setuid bit", e.Mode)
	}

	// On the host, the user's own files are the user's, and a file chowned to
	// 1000 is the subordinate id 1000 maps to, never a real user's.
	fi, err := os.Stat(filepath.Join(userStore, "index.json"))
	if err != nil {
		t.Fatalf("the rootless store is not under $XDG_DATA_HOME/strata: %v", err)
	}
	if got := fi.Sys().(*syscall.Stat_t).Uid; int(got) != u.uid {
		t.Errorf("index.json owned by %d on the host, want the user %d", got, u.uid)
	}

	sub, _ := os.ReadFile("/etc/subuid")
	start := -1
	for _, line := range strings.Split(string(sub), "\n") {
		if f := strings.Split(line, ":"); len(f) == 3 && f[0] == rlUser && start < 0 {
			start, _ = strconv.Atoi(f[1])
		}
	}
	owned, _ := filepath.Glob(filepath.Join(userStore, "layers", "*", "diff", "owned"))
	if len(owned) != 1 {
		t.Fatalf("extracted layers with /owned: %v, want one", owned)
	}
	if fi, err = os.Lstat(owned[0]); err != nil {
		t.Fatal(err)
	}
	if got, want := int(fi.Sys().(*syscall.Stat_t).Uid), start+999; got != want {
		t.Errorf("/owned in the extracted layer is uid %d on the host, want %d (subordinate id of 1000)", got, want)
	}

	// And the image runs rootless, with the owners the layers carry.
	r := u.must("run", "--rm", "rl:test", "sh", "-c", "id -u; stat -c %u:%g /owned /data/g; ls /data; test -e /etc/group || echo gone")
	if diff := cmp.Diff(r.stdout, "0\n1000:1000\n1000:50\ng\ngone\n"); diff != "" {
		t.Errorf("rootless run output (-got +want):\n%s\nstderr:\n%s", diff, r.stderr)
	}
}

// TestRootlessMissingSetup runs strata as a user with no subordinate ids and
// wants one error that says what to run.
func TestRootlessMissingSetup(t *testing.T) {
	u := newRootless(t, rlUserNoSub, testenv.UserOptions{})
	r := u.run("images")
	if r.code == 0 {
		t.Fatalf("strata images as %s without subordinate ids succeeded:\n%s", rlUserNoSub, r.stdout)
	}
	for _, want := range []string{"/etc/subuid", "usermod --add-subuids", "--add-subgids", rlUserNoSub} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error does not mention %q:\n%s", want, r.stderr)
		}
	}
	if n := strings.Count(r.stderr, "strata:"); n != 1 {
		t.Errorf("want one error, got %d:\n%s", n, r.stderr)
	}
	// Help and version need no namespace, so they work before the setup.
	for _, args := range [][]string{{"--help"}, {"build", "--help"}, {"version"}} {
		if r := u.run(args...); r.code != 0 || r.stdout == "" {
			t.Errorf("strata %v as %s without subordinate ids: exit %d, stderr %q", args, rlUserNoSub, r.code, r.stderr)
		}
	}
}

// TestRootlessBaseWithDevices imports, as an ordinary user, a base whose tar
// holds device nodes (as mmdebstrap's do): the devices, which a user
// namespace cannot create, are left out of the extracted layer, the fifo is
// kept, and the image runs.
func TestRootlessBaseWithDevices(t *testing.T) {
	u := newRootless(t, rlUser, testenv.UserOptions{Subordinate: true})
	src, err := os.Open(env.busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(u.home, "devices.tar")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(out)
	tr := tar.NewReader(src)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []*tar.Header{
		{Name: "devs/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "devs/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		{Name: "devs/loop0", Typeflag: tar.TypeBlock, Mode: 0o660, Devmajor: 7, Devminor: 0},
		{Name: "devs/fifo", Typeflag: tar.TypeFifo, Mode: 0o640},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dst, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
	u.must("import", "devices.tar", "devs:latest")
	r := u.must("run", "--rm", "devs", "ls", "/devs")
	if diff := cmp.Diff(r.stdout, "fifo\n"); diff != "" {
		t.Errorf("ls /devs (-got +want):\n%s", diff)
	}
}
