package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/stargz-snapshotter/estargz"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"
)

// outputContext is the build every output test writes out: a RUN that
// adds files and deletes one of the base's (so a whiteout must be applied),
// and a COPY.
func outputContext(t *testing.T) string {
	t.Helper()
	return writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\n" +
			"RUN echo hi > /hi && mkdir /d && echo x > /d/x && rm /etc/group\n" +
			"COPY note.txt /note.txt\n" +
			"CMD [\"cat\", \"/hi\"]\n",
		"note.txt": "copied\n",
	})
}

// checkOutputTree checks the final stage's files as a local output wrote
// them (or a tar of them, unpacked).
func checkOutputTree(t *testing.T, dir string) {
	t.Helper()
	for p, want := range map[string]string{"hi": "hi\n", "d/x": "x\n", "note.txt": "copied\n"} {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(got) != want {
			t.Errorf("%s holds %q (%v), want %q", p, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err != nil {
		t.Errorf("the base image's bin/busybox is missing: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc", "group")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("etc/group, which the RUN deleted, is there (%v)", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*", ".wh.*")); len(m) > 0 {
		t.Errorf("whiteout files were written: %v", m)
	}
}

// in returns s for use in the subtest t (its failures end t, not its
// parent).
func (s *strata) in(t *testing.T) *strata { return &strata{t: t, root: s.root} }

// namedImages returns the store's named images other than busybox.
func namedImages(t *testing.T, s *strata) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s.must("images", "--format", "{{.Repository}}:{{.Tag}}").stdout), "\n") {
		if l != "busybox:latest" && l != "<none>:<none>" {
			out = append(out, l)
		}
	}
	return out
}

func TestOutputLocal(t *testing.T) {
	s := newStrata(t)
	ctx := outputContext(t)
	for _, tt := range []struct{ name, spec string }{{"keys", "type=local,dest=%s"}, {"bare-dir", "%s"}} {
		t.Run(tt.name, func(t *testing.T) {
			s := s.in(t)
			spec := tt.spec
			dest := filepath.Join(t.TempDir(), "out")
			s.must("build", "-t", "local-only:1", "-o", strings.ReplaceAll(spec, "%s", dest), ctx)
			checkOutputTree(t, dest)
			if got := namedImages(t, s); len(got) != 0 {
				t.Errorf("the store names %v, want no image named: the only output asked for is type=local", got)
			}
		})
	}
}

func TestOutputTar(t *testing.T) {
	s := newStrata(t)
	ctx := outputContext(t)
	file := filepath.Join(t.TempDir(), "fs.tar")
	s.must("build", "-o", "type=tar,dest="+file, ctx)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stdout := s.must("build", "-o", "-", ctx).stdout
	if stdout != string(data) {
		t.Errorf("-o - wrote %d bytes to stdout, type=tar,dest=FILE %d: want the same tar", len(stdout), len(data))
	}
	dir := t.TempDir()
	untar(t, strings.NewReader(stdout), dir)
	checkOutputTree(t, dir)
}

// untar unpacks the regular files and directories of a tar into dir.
func untar(t *testing.T, r io.Reader, dir string) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// layerTypes returns the media types of an image's layers.
func layerTypes(t *testing.T, img v1.Image) []types.MediaType {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []types.MediaType
	for _, l := range m.Layers {
		out = append(out, l.MediaType)
	}
	return out
}

// allOf reports whether every media type is want.
func allOf(got []types.MediaType, want types.MediaType) bool {
	return len(got) > 0 && !slices.ContainsFunc(got, func(m types.MediaType) bool { return m != want })
}

func TestOutputOCI(t *testing.T) {
	s := newStrata(t)
	ctx := outputContext(t)
	tests := []struct {
		name, opts string
		tar        bool
		want       types.MediaType
	}{
		{"tar-gzip-by-default", "", true, types.OCILayer},
		{"tar-zstd", ",compression=zstd,compression-level=19", true, types.OCILayerZStd},
		{"dir-uncompressed", ",tar=false,compression=uncompressed", false, types.OCIUncompressedLayer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.in(t)
			tmp := t.TempDir()
			dest, dir := filepath.Join(tmp, "oci.tar"), filepath.Join(tmp, "layout")
			if !tt.tar {
				dest = dir
			}
			md := filepath.Join(tmp, "md.json")
			s.must("build", "--metadata-file", md, "-o", "type=oci,name=oci-out:1,dest="+dest+tt.opts, ctx)
			if tt.tar {
				f, err := os.Open(dest)
				if err != nil {
					t.Fatal(err)
				}
				untar(t, f, dir)
				f.Close()
			}
			img := layoutImage(t, dir, "docker.io/library/oci-out:1")
			if got := layerTypes(t, img); !allOf(got, tt.want) {
				t.Errorf("layer media types %v, want all %s", got, tt.want)
			}
			dg, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if got := readMetadata(t, md)["containerimage.digest"]; got != dg.String() {
				t.Errorf("--metadata-file containerimage.digest = %v, want the layout's manifest %s", got, dg)
			}
			if tt.tar {
				// Back into a fresh store, then run: the layout is whole.
				s2 := newStrata(t)
				s2.must("load", "-i", dest)
				if got := s2.must("run", "--rm", "oci-out:1").stdout; got != "hi\n" {
					t.Errorf("the loaded image printed %q, want \"hi\\n\"", got)
				}
			}
		})
	}
}

// layoutImage reads the image named name from the OCI layout dir and
// validates it (every blob against its digest, diff_ids against layers).
func layoutImage(t *testing.T, dir, name string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Annotations["io.containerd.image.name"] != name {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		validateImage(t, img)
		return img
	}
	t.Fatalf("the layout's index.json names no %s: %+v", name, im.Manifests)
	return nil
}

// readMetadata reads a --metadata-file.
func readMetadata(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("--metadata-file %s: %v\n%s", path, err, data)
	}
	return m
}

func TestOutputDocker(t *testing.T) {
	d := startDockerd(t)
	s := newStrata(t)
	file := filepath.Join(t.TempDir(), "d.tar")
	s.must("build", "-t", "docker-out:1", "-o", "type=docker,dest="+file, outputContext(t))
	if out := d.must("load", "-i", file); !strings.Contains(out, "Loaded image: docker-out:1") {
		t.Errorf("docker load printed %q, want it to name docker-out:1", out)
	}
	if got := d.must("run", "--rm", "--network", "none", "docker-out:1", "cat", "/hi", "/note.txt"); got != "hi\ncopied\n" {
		t.Errorf("docker run printed %q, want \"hi\\ncopied\\n\"", got)
	}
}

func TestOutputImageNameAndMetadata(t *testing.T) {
	s := newStrata(t)
	tmp := t.TempDir()
	md, iid := filepath.Join(tmp, "md.json"), filepath.Join(tmp, "iid")
	s.must("build", "-t", "img-a:1", "-o", "type=image,name=img-b:2", "--metadata-file", md, "--iidfile", iid, outputContext(t))
	if got := namedImages(t, s); !slices.Equal(got, []string{"img-a:1", "img-b:2"}) {
		t.Errorf("the store names %v, want [img-a:1 img-b:2]", got)
	}
	id := storeImageID(t, s, "img-a:1")
	if got, _ := os.ReadFile(iid); string(got) != id {
		t.Errorf("--iidfile holds %q, want %s", got, id)
	}
	m := readMetadata(t, md)
	manifest := storeManifestDigest(t, s, "docker.io/library/img-a:1")
	want := map[string]any{
		"containerimage.config.digest": id,
		"containerimage.digest":        manifest,
		"image.name":                   "docker.io/library/img-a:1,docker.io/library/img-b:2",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("--metadata-file %s = %v, want %v", k, m[k], v)
		}
	}
	desc, _ := m["containerimage.descriptor"].(map[string]any)
	if desc["digest"] != manifest || desc["mediaType"] == nil || desc["size"] == nil {
		t.Errorf("--metadata-file containerimage.descriptor = %v, want the manifest %s with its media type and size", desc, manifest)
	}
}

func TestOutputRefused(t *testing.T) {
	s := newStrata(t)
	ctx := outputContext(t)
	tests := []struct{ spec, want string }{
		{"type=cacheonly", `unknown type "cacheonly"`},
		{"type=local,dest=x,platform-split=true", `type=local has no key "platform-split"`},
		{"type=image,unpack=true", `type=image has no key "unpack"`},
		{"type=docker,dest=x,compression=zstd", `type=docker has no key "compression"`},
		{"type=oci,dest=x,compression=brotli", `compression="brotli"`},
		{"type=registry", "give -t NAME or name=NAME"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			r := s.in(t).run("build", "-o", tt.spec, ctx)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("strata build -o %s: exit %d, stderr %q; want a failure saying %q", tt.spec, r.code, r.stderr, tt.want)
			}
		})
	}
}

// skopeoBin is Debian's skopeo, which copies images between registries and
// layouts with containers/image: a second, independent reader of our pushes.
const skopeoBin = "/usr/bin/skopeo"

// skopeoCopy copies src to dst with skopeo, plain http allowed, keeping
// every blob as it is (skopeo fails rather than recompress a layer).
func skopeoCopy(t *testing.T, src, dst string) {
	t.Helper()
	if _, err := os.Stat(skopeoBin); err != nil {
		t.Fatalf("%s is missing: run \"apt-get install skopeo\" (%v)", skopeoBin, err)
	}
	out, err := exec.Command(skopeoBin, "copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false", src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy %s %s: %v\n%s", src, dst, err, out)
	}
}

// storeManifestDigest returns the manifest digest the store's index.json gives
// the name full.
func storeManifestDigest(t *testing.T, s *strata, full string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.root, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == full {
			return d.Digest.String()
		}
	}
	t.Fatalf("the store's index.json names no %s", full)
	return ""
}

// validateImage runs validate.Image over img. validate.Image gunzips every
// layer, so for an image with zstd or plain layers it runs in Fast mode
// and every layer's digest and diff_id is checked here by hashing its
// compressed and uncompressed streams.
func validateImage(t *testing.T, img v1.Image) {
	t.Helper()
	if allOf(layerTypes(t, img), types.OCILayer) || allOf(layerTypes(t, img), types.DockerLayer) {
		if err := validate.Image(img); err != nil {
			t.Fatalf("validate.Image: %v", err)
		}
		return
	}
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Fatalf("validate.Image(Fast): %v", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		for _, c := range []struct {
			open func() (io.ReadCloser, error)
			want v1.Hash
		}{{l.Compressed, m.Layers[i].Digest}, {l.Uncompressed, cf.RootFS.DiffIDs[i]}} {
			rc, err := c.open()
			if err != nil {
				t.Fatal(err)
			}
			h, _, err := v1.SHA256(rc)
			rc.Close()
			if err != nil || h != c.want {
				t.Errorf("layer %d: content hashes to %s (%v), want %s", i, h, err, c.want)
			}
		}
	}
}

func TestOutputRegistry(t *testing.T) {
	reg := startRegistry(t)
	s := newStrata(t)
	ctx := outputContext(t)
	tests := []struct {
		name, opts string
		want       types.MediaType
	}{
		{"gzip-by-default", "", types.OCILayer},
		{"zstd", ",compression=zstd", types.OCILayerZStd},
		{"zstd-level-19", ",compression=zstd,compression-level=19", types.OCILayerZStd},
		{"gzip-level-1", ",compression=gzip,compression-level=1", types.OCILayer},
		{"uncompressed", ",compression=uncompressed", types.OCIUncompressedLayer},
		{"estargz", ",compression=estargz", types.OCILayer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.in(t)
			ref := reg + "/out:" + tt.name
			md := filepath.Join(t.TempDir(), "md.json")
			s.must("build", "-t", ref, "--metadata-file", md, "-o", "type=registry"+tt.opts, ctx)
			if got := namedImages(t, s); slices.Contains(got, ref) {
				t.Errorf("the store names %s: type=registry alone pushes, it does not name the image in the store", ref)
			}
			img := storeRemoteImage(t, ref)
			validateImage(t, img)
			if got := layerTypes(t, img); !allOf(got, tt.want) {
				t.Errorf("pushed layer media types %v, want all %s", got, tt.want)
			}
			dg, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if got := readMetadata(t, md)["containerimage.digest"]; got != dg.String() {
				t.Errorf("--metadata-file containerimage.digest = %v, want the pushed manifest %s", got, dg)
			}
			// Pulled back into an empty store and run.
			p := &strata{t: t, root: t.TempDir()}
			p.must("pull", ref)
			if got := p.must("run", "--rm", ref).stdout; got != "hi\n" {
				t.Errorf("the pulled image printed %q, want \"hi\\n\"", got)
			}
			// A second reader: containers/image copies it to a layout.
			dir := filepath.Join(t.TempDir(), "layout")
			skopeoCopy(t, "docker://"+ref, "oci:"+dir+":copied")
			if got := layerTypes(t, layoutImageRef(t, dir, "copied")); !allOf(got, tt.want) {
				t.Errorf("skopeo's copy has layer media types %v, want all %s", got, tt.want)
			}
		})
	}
}

// layoutImageRef reads the image skopeo wrote into the layout dir under the
// ref name (org.opencontainers.image.ref.name), validated.
func layoutImageRef(t *testing.T, dir, ref string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == ref {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			validateImage(t, img)
			return img
		}
	}
	t.Fatalf("the layout %s names no %s", dir, ref)
	return nil
}

func TestOutputPushFlag(t *testing.T) {
	reg := startRegistry(t)
	s := newStrata(t)
	ref := reg + "/pushed:1"
	s.must("build", "-t", ref, "--push", outputContext(t))
	if got := namedImages(t, s); !slices.Equal(got, []string{ref}) {
		t.Errorf("the store names %v, want [%s]: --push keeps the image output", got, ref)
	}
	validateImage(t, storeRemoteImage(t, ref))
}

func TestOutputForceCompression(t *testing.T) {
	reg := startRegistry(t)
	s := newStrata(t)
	// A base whose layer the store holds gzip-compressed, as pulled.
	base := reg + "/base:gz"
	s.must("push", "busybox:latest", base)
	p := &strata{t: t, root: t.TempDir()}
	p.must("pull", base)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo hi > /hi\nCMD [\"cat\", \"/hi\"]\n"})
	tests := []struct {
		name, opts string
		want       []types.MediaType
	}{
		{"kept", ",compression=zstd", []types.MediaType{types.OCILayer, types.OCILayerZStd}},
		{"forced", ",compression=zstd,force-compression=true", []types.MediaType{types.OCILayerZStd, types.OCILayerZStd}},
		{"forced-uncompressed", ",compression=uncompressed,force-compression=true", []types.MediaType{types.OCIUncompressedLayer, types.OCIUncompressedLayer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := reg + "/forced:" + tt.name
			p.in(t).must("build", "-t", ref, "-o", "type=registry"+tt.opts, ctx)
			img := storeRemoteImage(t, ref)
			validateImage(t, img)
			if got := layerTypes(t, img); !slices.Equal(got, tt.want) {
				t.Errorf("layer media types %v, want %v", got, tt.want)
			}
			q := &strata{t: t, root: t.TempDir()}
			q.must("pull", ref)
			if got := q.must("run", "--rm", ref).stdout; got != "hi\n" {
				t.Errorf("the pulled image printed %q, want \"hi\\n\"", got)
			}
		})
	}
}

// TestOutputPushWhileBuilding checks that a layer reaches the registry
// while later steps still run: the registry holds the 3 MB layer of the
// first RUN well before the build, whose last RUN sleeps 6 s, ends.
func TestOutputPushWhileBuilding(t *testing.T) {
	reg, data := startRegistryDir(t)
	s := newStrata(t)
	ref := reg + "/early:1"
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN head -c 3000000 /dev/urandom > /big\n" +
		"RUN sleep 6\n"})
	seen := make(chan time.Time, 1)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if bigBlob(data, 2900000) {
				seen <- time.Now()
				return
			}
		}
	}()
	s.must("build", "-t", ref, "-o", "type=registry", ctx)
	end := time.Now()
	close(stop)
	select {
	case at := <-seen:
		if early := end.Sub(at); early < 3*time.Second {
			t.Errorf("the layer reached the registry %v before the build ended, want it uploaded while RUN sleep 6 ran", early)
		}
	default:
		t.Errorf("the 3 MB layer was not in the registry before the build ended")
	}
	validateImage(t, storeRemoteImage(t, ref))
}

// bigBlob reports whether the registry's storage under data holds a blob of
// at least size bytes.
func bigBlob(data string, size int64) bool {
	found := false
	filepath.WalkDir(filepath.Join(data, "docker", "registry", "v2", "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "data" {
			if fi, err := d.Info(); err == nil && fi.Size() >= size {
				found = true
			}
		}
		return nil
	})
	return found
}

// TestOutputEstargz checks an eStargz push: every layer's table of contents
// verifies against the digest its descriptor annotates, the config names
// the new diff_ids (validateImage), and both strata and Docker 20.10 (which
// reads eStargz as the gzip it is) pull and run it.
func TestOutputEstargz(t *testing.T) {
	reg := startRegistry(t)
	s := newStrata(t)
	ref := reg + "/esgz:1"
	s.must("build", "-t", ref, "-o", "type=registry,compression=estargz", outputContext(t))
	img := storeRemoteImage(t, ref)
	validateImage(t, img)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range m.Layers {
		toc, err := digest.Parse(d.Annotations[estargz.TOCJSONDigestAnnotation])
		if err != nil {
			t.Fatalf("layer %d: annotation %s: %v", i, estargz.TOCJSONDigestAnnotation, err)
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		blob, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		r, err := estargz.Open(io.NewSectionReader(bytes.NewReader(blob), 0, int64(len(blob))))
		if err != nil {
			t.Fatalf("layer %d is no eStargz: %v", i, err)
		}
		if _, err := r.VerifyTOC(toc); err != nil {
			t.Errorf("layer %d: the TOC does not verify against %s: %v", i, toc, err)
		}
	}
	p := &strata{t: t, root: t.TempDir()}
	p.must("pull", ref)
	if got := p.must("run", "--rm", ref).stdout; got != "hi\n" {
		t.Errorf("strata run of the pulled image printed %q, want \"hi\\n\"", got)
	}
	d := startDockerd(t)
	d.must("pull", ref)
	if got := d.must("run", "--rm", "--network", "none", ref); got != "hi\n" {
		t.Errorf("docker run of the pulled image printed %q, want \"hi\\n\"", got)
	}
}
