package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// storeDockerfile builds two layers on a busybox base: the first writes
// files (a setuid binary, a hardlink, a symlink, a file owned by 1000:50, a
// setgid directory), the second deletes base files and directories and
// replaces a directory, so that its layer holds whiteouts and an opaque
// directory.
const storeDockerfile = `FROM %s
RUN mkdir -p /data/sub /data/gone && echo hello > /data/hello && echo gone > /data/gone/f \
 && cp /bin/busybox /data/suid && chmod 4755 /data/suid && ln /data/hello /data/hard \
 && ln -s hello /data/sym && echo owned > /data/owned && chown 1000:50 /data/owned \
 && chmod 2750 /data/sub
RUN rm /etc/group /bin/vi && rm -r /home/app /data/gone && mkdir /data/gone && echo new > /data/gone/n
`

func TestImportPushRmiPullExport(t *testing.T) {
	host := startRegistry(t)
	s := newStrata(t)
	s.must("import", env.busyboxTar, "e2e-base:1")
	s.must("build", "-t", "e2e-img:1", writeContext(t, map[string]string{
		"Dockerfile": fmt.Sprintf(storeDockerfile, "e2e-base:1"),
	}))

	images := []struct{ local, remote string }{
		{"e2e-base:1", host + "/e2e/base:v1"},
		{"e2e-img:1", host + "/e2e/img:v1"},
	}
	before := map[string]map[string]storeNode{}
	ids := map[string]string{}
	for _, im := range images {
		before[im.local] = storeExportTree(t, s, im.local)
		ids[im.local] = storeImageID(t, s, im.local)
		s.must("push", im.local, im.remote)
	}
	storeCheckBuiltTree(t, before["e2e-img:1"])

	// The registry holds gzip layers that carry the whiteouts and the
	// opaque directory, and a valid image.
	for _, im := range images {
		img := storeRemoteImage(t, im.remote)
		if err := validate.Image(img); err != nil {
			t.Errorf("validate.Image(%s from the registry): %v", im.remote, err)
		}
	}
	wantWhiteouts := []string{"bin/.wh.vi", "data/gone/.wh..wh..opq", "etc/.wh.group", "home/.wh.app"}
	if diff := cmp.Diff(storeWhiteouts(t, storeRemoteImage(t, host+"/e2e/img:v1")), wantWhiteouts); diff != "" {
		t.Errorf("whiteouts in the pushed layers (-got +want):\n%s", diff)
	}

	s.must("rmi", "e2e-img:1", "e2e-base:1", "busybox:latest")
	for _, im := range images {
		if r := s.run("inspect", im.local); r.code == 0 || !strings.Contains(r.stderr, "no such image") {
			t.Errorf("strata inspect %s after rmi: exit %d, stderr %q; want a failure saying \"no such image\"", im.local, r.code, r.stderr)
		}
	}

	for _, im := range images {
		s.must("pull", im.remote)
	}
	// The build cache keeps the built layers' directories alive past rmi:
	// drop every extracted layer so that the exports below must extract the
	// pulled blobs.
	storeDropLayerDirs(t, s)
	for _, im := range images {
		t.Run(im.local, func(t *testing.T) {
			after := storeExportTree(t, s, im.remote)
			if diff := cmp.Diff(after, before[im.local]); diff != "" {
				t.Errorf("export of the pulled %s differs from the export of %s before the push (-pulled +before):\n%s", im.remote, im.local, diff)
			}
			if got, want := storeImageID(t, s, im.remote), ids[im.local]; got != want {
				t.Errorf("image ID after the round trip = %s, want %s", got, want)
			}
			m := storeManifest(t, s.root, im.remote)
			if len(m.Layers) == 0 {
				t.Fatalf("the pulled %s has no layers", im.remote)
			}
			for i, l := range m.Layers {
				if l.MediaType != types.OCILayer && l.MediaType != types.DockerLayer {
					t.Errorf("layer %d of the pulled %s has media type %s, want a gzip layer", i, im.remote, l.MediaType)
				}
				b := storeReadBlob(t, s.root, l.Digest)
				if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
					t.Errorf("layer %d blob %s of the pulled %s is not gzip (starts % x)", i, l.Digest, im.remote, b[:min(len(b), 4)])
				}
				if int64(len(b)) != l.Size {
					t.Errorf("layer %d blob %s is %d bytes, the manifest says %d", i, l.Digest, len(b), l.Size)
				}
			}
		})
	}

	// A fresh store pulls the images with their layers extracted as they
	// download: the layer dirs are there before any use, the exports use
	// them (extracting nothing more) and give the trees pushed, and the
	// image IDs are those pushed.
	fresh := newStrata(t)
	for _, im := range images {
		fresh.must("pull", im.remote)
	}
	pulledDirs := storeLayerDirs(t, fresh)
	if n := len(storeManifest(t, fresh.root, host+"/e2e/img:v1").Layers); len(pulledDirs) < n {
		t.Errorf("the pull extracted %d layer dirs (%v), want the image's %d", len(pulledDirs), pulledDirs, n)
	}
	for _, im := range images {
		if diff := cmp.Diff(storeExportTree(t, fresh, im.remote), before[im.local]); diff != "" {
			t.Errorf("export of %s pulled into a fresh store differs from the export before the push (-pulled +before):\n%s", im.remote, diff)
		}
		if got, want := storeImageID(t, fresh, im.remote), ids[im.local]; got != want {
			t.Errorf("image ID of %s pulled into a fresh store = %s, want %s", im.remote, got, want)
		}
	}
	if diff := cmp.Diff(storeLayerDirs(t, fresh), pulledDirs); diff != "" {
		t.Errorf("the exports extracted layers the pull had extracted (-after +after the pull):\n%s", diff)
	}
	storeAssertTmpEmpty(t, fresh)
}

// storeCheckBuiltTree checks that the export of storeDockerfile's image
// holds what its RUNs did, so that comparing two exports proves something.
func storeCheckBuiltTree(t *testing.T, tree map[string]storeNode) {
	t.Helper()
	type check struct {
		path string
		got  any
		want any
	}
	n := func(p string) storeNode {
		node, ok := tree[p]
		if !ok {
			t.Errorf("the built image has no %s", p)
		}
		return node
	}
	for _, c := range []check{
		{"data/suid mode", n("data/suid").Mode, int64(0o4755)},
		{"data/sub mode", n("data/sub").Mode, int64(0o2750)},
		{"data/owned owner", fmt.Sprintf("%d:%d", n("data/owned").UID, n("data/owned").GID), "1000:50"},
		{"data/hello links", n("data/hello").Hardlinks, []string{"data/hard", "data/hello"}},
		{"data/sym target", n("data/sym").Link, "hello"},
		{"data/gone/n size", n("data/gone/n").Size, int64(4)},
	} {
		if diff := cmp.Diff(c.got, c.want); diff != "" {
			t.Errorf("%s (-got +want):\n%s", c.path, diff)
		}
	}
	for _, p := range []string{"etc/group", "bin/vi", "home/app", "data/gone/f"} {
		if _, ok := tree[p]; ok {
			t.Errorf("the built image still has %s, which its last RUN deleted", p)
		}
	}
}

func TestSaveDockerLoad(t *testing.T) {
	d := startDockerd(t)
	s := newStrata(t)
	s.must("build", "-t", "e2e-saved:1", writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\n" +
			"RUN echo written by strata > /from-strata && chown 1000:50 /from-strata && chmod 4750 /from-strata && rm /etc/group\n" +
			"COPY note.txt /note.txt\n",
		"note.txt": "copied by strata\n",
	}))
	archive := filepath.Join(t.TempDir(), "x.tar")
	s.must("save", "-o", archive, "e2e-saved:1")
	if out := d.must("load", "-i", archive); !strings.Contains(out, "Loaded image: e2e-saved:1") {
		t.Errorf("docker load printed %q, want it to name e2e-saved:1", out)
	}
	if got, want := strings.TrimSpace(d.must("image", "inspect", "--format", "{{.Id}}", "e2e-saved:1")), storeImageID(t, s, "e2e-saved:1"); got != want {
		t.Errorf("docker's image ID = %s, strata's = %s", got, want)
	}
	if got, want := d.must("run", "--rm", "--network", "none", "e2e-saved:1", "cat", "/from-strata", "/note.txt"), "written by strata\ncopied by strata\n"; got != want {
		t.Errorf("docker run e2e-saved:1 cat /from-strata /note.txt printed %q, want %q", got, want)
	}
	for _, c := range []struct{ args, want string }{ // each prints its exit code last
		{"stat -c %a:%u:%g /from-strata", "4750:1000:50\n0\n"},
		{"ls /etc/group", "1\n"}, // fails: the RUN's whiteout hides the base's file
	} {
		args := []string{"run", "--rm", "--network", "none", "e2e-saved:1", "sh", "-c", c.args + " 2>/dev/null; echo $?"}
		if got := d.must(args...); got != c.want {
			t.Errorf("docker run e2e-saved:1 %s printed %q, want %q", c.args, got, c.want)
		}
	}
}

func TestDockerSaveStrataLoad(t *testing.T) {
	d := startDockerd(t)
	s := newStrata(t)
	d.must("import", env.busyboxTar, "e2e-dkbase:1")
	d.must("run", "--name", "strata-e2e-c", "--network", "none", "e2e-dkbase:1", "sh", "-c", "echo x > /f && rm /etc/group")
	d.must("commit", "strata-e2e-c", "img2")
	archive := filepath.Join(t.TempDir(), "d.tar")
	d.must("save", "-o", archive, "e2e-dkbase:1", "img2")

	out := s.must("load", "-i", archive).stdout
	for _, n := range []string{"e2e-dkbase:1", "img2:latest"} {
		if !strings.Contains(out, "Loaded image: "+n+"\n") {
			t.Errorf("strata load printed %q, want it to name %s", out, n)
		}
		if got, want := storeImageID(t, s, n), strings.TrimSpace(d.must("image", "inspect", "--format", "{{.Id}}", n)); got != want {
			t.Errorf("%s: strata's image ID = %s, docker's = %s", n, got, want)
		}
	}
	if got := s.must("run", "--rm", "img2", "cat", "/f").stdout; got != "x\n" {
		t.Errorf("strata run --rm img2 cat /f printed %q, want %q", got, "x\n")
	}
	if r := s.run("run", "--rm", "img2", "ls", "/etc/group"); r.code == 0 {
		t.Errorf("strata run --rm img2 ls /etc/group succeeded (%q): docker's whiteout of /etc/group was not applied", r.stdout)
	}
	if got := s.must("run", "--rm", "e2e-dkbase:1", "cat", "/etc/group").stdout; !strings.Contains(got, "staff:x:50:") {
		t.Errorf("strata run e2e-dkbase:1 cat /etc/group printed %q", got)
	}
}

func TestValidateEveryOutput(t *testing.T) {
	host := startRegistry(t)
	s := newStrata(t)
	s.must("build", "-t", "e2e-valid:1", writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo run > /run.txt && rm /etc/group\nCOPY a.txt /copied/a.txt\n",
		"a.txt":      "copied\n",
	}))
	wantID := storeImageID(t, s, "e2e-valid:1")
	dir := t.TempDir()

	t.Run("docker archive", func(t *testing.T) {
		p := filepath.Join(dir, "docker.tar")
		s.must("save", "-o", p, "e2e-valid:1")
		img, err := tarball.ImageFromPath(p, nil)
		if err != nil {
			t.Fatalf("tarball.ImageFromPath: %v", err)
		}
		storeValidate(t, img, wantID)
	})

	t.Run("OCI archive", func(t *testing.T) {
		p := filepath.Join(dir, "oci.tar")
		s.must("save", "--format", "oci", "-o", p, "e2e-valid:1")
		lay := filepath.Join(dir, "oci")
		storeUntar(t, p, lay)
		img := storeLayoutImage(t, lay, "")
		storeValidate(t, img, wantID)
	})

	t.Run("registry", func(t *testing.T) {
		ref := host + "/e2e/valid:1"
		s.must("push", "e2e-valid:1", ref)
		img := storeRemoteImage(t, ref)
		storeValidate(t, img, wantID)
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range m.Layers {
			if l.MediaType != types.OCILayer && l.MediaType != types.DockerLayer {
				t.Errorf("pushed layer %d has media type %s, want gzip", i, l.MediaType)
			}
		}
	})

	t.Run("store", func(t *testing.T) {
		// The store is an OCI layout; it names images by their full name.
		img := storeLayoutImage(t, s.root, "docker.io/library/e2e-valid:1")
		storeValidate(t, img, wantID)
		// Built and imported layers are stored uncompressed.
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range m.Layers {
			if l.MediaType != types.OCIUncompressedLayer {
				t.Errorf("stored layer %d has media type %s, want %s", i, l.MediaType, types.OCIUncompressedLayer)
			}
		}
	})
}

// storeValidate runs validate.Image over img and checks that its config
// digest is wantID. validate.Image computes diff_ids by gunzipping every
// layer, so it cannot check an image with uncompressed layers (the store's
// own, and the OCI archive, which copies the stored blobs): for those it
// runs with validate.Fast (manifest, config, descriptors; no layer bytes)
// and storeCheckLayers checks the layer bytes instead.
func storeValidate(t *testing.T, img v1.Image, wantID string) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatalf("reading the manifest: %v", err)
	}
	uncompressed := false
	for _, l := range m.Layers {
		if l.MediaType == types.OCIUncompressedLayer || l.MediaType == types.DockerUncompressedLayer {
			uncompressed = true
		}
	}
	if uncompressed {
		if err := validate.Image(img, validate.Fast); err != nil {
			t.Errorf("validate.Image(Fast): %v", err)
		}
		storeCheckLayers(t, img)
	} else if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	if id, err := img.ConfigName(); err != nil || id.String() != wantID {
		t.Errorf("config digest = %v (%v), want the image ID %s", id, err, wantID)
	}
}

// storeCheckLayers checks each layer of img by hand: the blob hashes to its
// digest and has its size, its uncompressed stream (the blob itself for an
// uncompressed layer) hashes to the config's diff_id and is a complete tar.
func storeCheckLayers(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		t.Fatalf("%d layers but %d diff_ids", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	for i, desc := range m.Layers {
		l, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		blob, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("layer %d: reading the blob: %v", i, err)
		}
		if got := storeSHA256(blob); got != desc.Digest.String() {
			t.Errorf("layer %d: blob hashes to %s, its descriptor says %s", i, got, desc.Digest)
		}
		if int64(len(blob)) != desc.Size {
			t.Errorf("layer %d: blob is %d bytes, its descriptor says %d", i, len(blob), desc.Size)
		}
		stream := blob
		switch desc.MediaType {
		case types.OCIUncompressedLayer, types.DockerUncompressedLayer:
			// The blob is the tar: its digest is the diff_id.
			if desc.Digest != cfg.RootFS.DiffIDs[i] {
				t.Errorf("layer %d: uncompressed layer digest %s is not its diff_id %s", i, desc.Digest, cfg.RootFS.DiffIDs[i])
			}
		case types.OCILayer, types.DockerLayer:
			zr, err := gzip.NewReader(bytes.NewReader(blob))
			if err != nil {
				t.Fatalf("layer %d: %v", i, err)
			}
			if stream, err = io.ReadAll(zr); err != nil {
				t.Fatalf("layer %d: gunzip: %v", i, err)
			}
		default:
			t.Errorf("layer %d: unexpected media type %s", i, desc.MediaType)
			continue
		}
		if got := storeSHA256(stream); got != cfg.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d: uncompressed stream hashes to %s, diff_id is %s", i, got, cfg.RootFS.DiffIDs[i])
		}
		if did, err := l.DiffID(); err != nil || did != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: DiffID() = %v, %v; want %s", i, did, err, cfg.RootFS.DiffIDs[i])
		}
		tr := tar.NewReader(bytes.NewReader(stream))
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("layer %d: not a valid tar: %v", i, err)
				break
			}
		}
	}
}

func TestStoreErrors(t *testing.T) {
	s := newStrata(t)

	t.Run("no such image", func(t *testing.T) {
		r := s.run("inspect", "nosuch")
		if r.code == 0 || !strings.Contains(r.stderr, "no such image") {
			t.Errorf("strata inspect nosuch: exit %d, stderr %q; want a failure saying \"no such image\"", r.code, r.stderr)
		}
	})

	t.Run("corrupt blob", func(t *testing.T) {
		m := storeManifest(t, s.root, "docker.io/library/busybox:latest")
		blobPath := filepath.Join(s.root, "blobs", "sha256", m.Layers[0].Digest.Hex)
		orig, err := os.ReadFile(blobPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			off  int
		}{
			{"byte in a file's content", len(orig) / 2},
			{"byte in the first tar header", 10},
		} {
			t.Run(c.name, func(t *testing.T) {
				bad := bytes.Clone(orig)
				bad[c.off] ^= 0xff
				if err := os.WriteFile(blobPath, bad, 0o600); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.WriteFile(blobPath, orig, 0o600) })
				storeDropLayerDirs(t, s)
				r := s.run("export", "-o", filepath.Join(t.TempDir(), "x.tar"), "busybox")
				if r.code == 0 || !strings.Contains(r.stderr, "corrupt") {
					t.Errorf("strata export of an image with a corrupt layer blob: exit %d, stderr %q; want a failure saying \"corrupt\"", r.code, r.stderr)
				}
				if dirs := storeLayerDirs(t, s); len(dirs) != 0 {
					t.Errorf("layer dirs made from the corrupt blob: %v", dirs)
				}
				storeAssertTmpEmpty(t, s)
				// The message's advice must be a command that exists.
				if m := regexp.MustCompile(`run strata ([a-z-]+)`).FindStringSubmatch(r.stderr); m != nil {
					if h := s.run(m[1], "--help"); h.code != 0 || !strings.Contains(h.stdout, "strata "+m[1]) {
						t.Errorf("the error advises \"strata %s\", which is not a strata command: %s", m[1], h.stderr)
					}
				}
			})
		}
		storeDropLayerDirs(t, s)
		s.must("export", "-o", filepath.Join(t.TempDir(), "x.tar"), "busybox")
	})

	t.Run("import of a non-tar", func(t *testing.T) {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(bytes.Repeat([]byte("gzip, but no tar inside\n"), 100))
		zw.Close()
		random := make([]byte, 4096)
		rand.Read(random)
		for _, c := range []struct {
			name string
			data []byte
		}{
			{"text", []byte("this is not a tar\n")},
			{"random bytes", random},
			{"gzip of text", gz.Bytes()},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "input")
				if err := os.WriteFile(p, c.data, 0o644); err != nil {
					t.Fatal(err)
				}
				blobsBefore := storeBlobs(t, s)
				r := s.run("import", p, "e2e-bad:1")
				if r.code == 0 || !strings.Contains(r.stderr, "not a valid tar") {
					t.Errorf("strata import of %s: exit %d, stderr %q; want a failure saying \"not a valid tar\"", c.name, r.code, r.stderr)
				}
				if diff := cmp.Diff(storeBlobs(t, s), blobsBefore); diff != "" {
					t.Errorf("blobs after the failed import (-got +want):\n%s", diff)
				}
				storeAssertTmpEmpty(t, s)
				if r := s.run("inspect", "e2e-bad:1"); r.code == 0 {
					t.Errorf("the failed import named an image e2e-bad:1")
				}
			})
		}
	})
}

// storeNode is one file of an exported tree, as the tar stream says it is.
type storeNode struct {
	Type      string // file, dir, symlink, char, block, fifo
	Mode      int64  // permission bits with setuid, setgid and sticky
	UID, GID  int
	Size      int64
	SHA256    string   // of a regular file's content
	Link      string   // a symlink's target
	Hardlinks []string // every name of a file with several, sorted
	Dev       string   // major:minor of a device
	Mtime     int64
	Xattrs    map[string]string
}

// storeExportTree exports ref with `strata export` and returns its tree.
func storeExportTree(t *testing.T, s *strata, ref string) map[string]storeNode {
	t.Helper()
	out := filepath.Join(t.TempDir(), "export.tar")
	s.must("export", "-o", out, ref)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tree, err := storeTarTree(f)
	if err != nil {
		t.Fatalf("reading the export of %s: %v", ref, err)
	}
	return tree
}

// storeTarTree reads a tar stream into a tree keyed by clean relative path.
// A hard link gets its target's node, and every name of a hardlinked file
// lists all of them, so that which name the tar stored first does not
// matter.
func storeTarTree(r io.Reader) (map[string]storeNode, error) {
	clean := func(n string) string { return strings.TrimPrefix(path.Clean("/"+n), "/") }
	tree := map[string]storeNode{}
	canon := map[string]string{} // hardlink name → the name holding the content
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		p := clean(h.Name)
		if p == "" {
			p = "."
		}
		if _, dup := tree[p]; dup {
			return nil, fmt.Errorf("%s appears twice", p)
		}
		n := storeNode{Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid, Mtime: h.ModTime.Unix()}
		for k, v := range h.PAXRecords {
			if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if n.Xattrs == nil {
					n.Xattrs = map[string]string{}
				}
				n.Xattrs[x] = v
			}
		}
		switch h.Typeflag {
		case tar.TypeReg:
			sum := sha256.New()
			size, err := io.Copy(sum, tr)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", p, err)
			}
			n.Type, n.Size, n.SHA256 = "file", size, "sha256:"+hex.EncodeToString(sum.Sum(nil))
		case tar.TypeLink:
			target := clean(h.Linkname)
			if c, ok := canon[target]; ok {
				target = c
			}
			tn, ok := tree[target]
			if !ok || tn.Type != "file" {
				return nil, fmt.Errorf("%s: hard link to %s, which is not an earlier regular file", p, h.Linkname)
			}
			canon[p] = target
			tree[p] = tn
			continue
		case tar.TypeDir:
			n.Type = "dir"
		case tar.TypeSymlink:
			n.Type, n.Link = "symlink", h.Linkname
		case tar.TypeChar, tar.TypeBlock:
			n.Type = map[byte]string{tar.TypeChar: "char", tar.TypeBlock: "block"}[h.Typeflag]
			n.Dev = fmt.Sprintf("%d:%d", h.Devmajor, h.Devminor)
		case tar.TypeFifo:
			n.Type = "fifo"
		default:
			return nil, fmt.Errorf("%s: unexpected type %q", p, h.Typeflag)
		}
		tree[p] = n
	}
	groups := map[string][]string{}
	for name, target := range canon {
		groups[target] = append(groups[target], name)
	}
	for target, names := range groups {
		names = append(names, target)
		sort.Strings(names)
		for _, name := range names {
			n := tree[name]
			n.Hardlinks = names
			tree[name] = n
		}
	}
	return tree, nil
}

// storeWhiteouts returns the sorted whiteout entries of img's layers.
func storeWhiteouts(t *testing.T, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				t.Fatalf("layer %d: %v", i, err)
			}
			if strings.HasPrefix(path.Base(h.Name), ".wh.") {
				out = append(out, strings.TrimPrefix(path.Clean("/"+h.Name), "/"))
			}
		}
		rc.Close()
	}
	sort.Strings(out)
	return out
}

// storeImageID returns strata's image ID of ref.
func storeImageID(t *testing.T, s *strata, ref string) string {
	t.Helper()
	return strings.TrimSpace(s.must("inspect", "--format", "{{.Id}}", ref).stdout)
}

// storeRemoteImage reads ref from a loopback registry.
func storeRemoteImage(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("remote.Image(%s): %v", ref, err)
	}
	return img
}

// storeLayoutImage returns the image of the OCI layout at dir whose
// org.opencontainers.image.ref.name is ref, or its only image if ref is "".
func storeLayoutImage(t *testing.T, dir, ref string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("layout.ImageIndexFromPath(%s): %v", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		if ref == "" || d.Annotations["org.opencontainers.image.ref.name"] == ref {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the layout at %s has %d images named %q, want 1: %+v", dir, len(found), ref, im.Manifests)
	}
	img, err := idx.Image(found[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// storeManifest reads the manifest that the store's index.json names ref
// (a full, normalised name), straight from the store's files.
func storeManifest(t *testing.T, root, ref string) *v1.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	for _, d := range idx.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == ref {
			m, err := v1.ParseManifest(bytes.NewReader(storeReadBlob(t, root, d.Digest)))
			if err != nil {
				t.Fatalf("manifest of %s: %v", ref, err)
			}
			return m
		}
	}
	t.Fatalf("the store's index.json does not name %s", ref)
	return nil
}

// storeReadBlob reads a blob file of the store.
func storeReadBlob(t *testing.T, root string, h v1.Hash) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "blobs", h.Algorithm, h.Hex))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storeBlobs returns the names in the store's blobs/sha256.
func storeBlobs(t *testing.T, s *strata) []string {
	t.Helper()
	return storeList(t, filepath.Join(s.root, "blobs", "sha256"))
}

// storeLayerDirs returns the names in the store's layers/.
func storeLayerDirs(t *testing.T, s *strata) []string {
	t.Helper()
	return storeList(t, filepath.Join(s.root, "layers"))
}

func storeList(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// storeDropLayerDirs removes every extracted layer of the store.
func storeDropLayerDirs(t *testing.T, s *strata) {
	t.Helper()
	for _, n := range storeLayerDirs(t, s) {
		if err := os.RemoveAll(filepath.Join(s.root, "layers", n)); err != nil {
			t.Fatal(err)
		}
	}
}

// storeAssertTmpEmpty fails the test if the store's tmp/ holds anything.
func storeAssertTmpEmpty(t *testing.T, s *strata) {
	t.Helper()
	if left := storeList(t, filepath.Join(s.root, "tmp")); len(left) > 0 {
		t.Errorf("the store's tmp/ holds %v", left)
	}
}

// storeTarEntry is an entry of a tar made by a test.
type storeTarEntry struct {
	name, body, link string
	typ              byte
}

// storeHostileTar writes the busybox base tar followed by entries, and
// returns its path.
func storeHostileTar(t *testing.T, entries []storeTarEntry) string {
	t.Helper()
	base, err := os.Open(env.busyboxTar)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	p := filepath.Join(t.TempDir(), "hostile.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	tr := tar.NewReader(base)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeSymlink {
			h.Mode, h.Size = 0o777, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// storeUntar extracts the (trusted, test-made) archive at p into dir.
func storeUntar(t *testing.T, p, dir string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+h.Name)))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
				var b []byte
				if b, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(target, b, 0o644)
				}
			}
		default:
			t.Fatalf("%s: unexpected entry %s of type %q", p, h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// storeSHA256 returns "sha256:<hex>" of b.
func storeSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// storeRandom returns a random hex string.
func storeRandom(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
