package output

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// plainImage makes an OCI image whose layers are uncompressed tars, as
// strata stores what it builds.
func plainImage(t *testing.T, seed int64, layers int) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	src := rand.NewSource(seed)
	for range layers {
		l, err := plainLayer(3000, src, types.OCIUncompressedLayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	mustValidate(t, img)
	return img
}

// gzipImage makes a docker image with gzip layers, as pulled from a registry.
func gzipImage(t *testing.T, seed int64, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(3000, int64(layers), random.WithSource(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	mustValidate(t, img)
	return img
}

// mustValidate runs validate.Image over img. validate.Image reads every
// layer with gzip, so images with other layers get its fast checks (config,
// manifest) and checkLayers instead.
func mustValidate(t *testing.T, img v1.Image) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	gz := true
	for _, l := range ls {
		if mt, _ := l.MediaType(); mt != types.OCILayer && mt != types.DockerLayer {
			gz = false
		}
	}
	if gz {
		if err := validate.Image(img); err != nil {
			t.Fatalf("validate: %v", err)
		}
		return
	}
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Fatalf("validate: %v", err)
	}
	checkLayers(t, img)
}

// checkLayers hashes every layer of img, compressed and uncompressed, and
// compares with its digest, size and diff_id.
func checkLayers(t *testing.T, img v1.Image) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		dg, size, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		if dg != m.Layers[i].Digest || size != m.Layers[i].Size {
			t.Errorf("layer %d: blob is %s (%d bytes), manifest says %s (%d bytes)", i, dg, size, m.Layers[i].Digest, m.Layers[i].Size)
		}
		if rc, err = l.Uncompressed(); err != nil {
			t.Fatal(err)
		}
		d, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		if want, _ := l.DiffID(); d != want {
			t.Errorf("layer %d: tar is %s, diff_id %s", i, d, want)
		}
	}
}

// summary is what must survive a round trip.
type summary struct {
	Config  v1.Hash
	DiffIDs []v1.Hash
	Names   []string
}

func summarize(t *testing.T, ni NamedImage) summary {
	t.Helper()
	cn, err := ni.Image.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := ni.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return summary{Config: cn, DiffIDs: cf.RootFS.DiffIDs, Names: ni.Names}
}

func writeFile(t *testing.T, write func(io.Writer) error) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "archive.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	return p
}

// tarFiles returns the regular files of the tar at p by name.
func tarFiles(t *testing.T, p string) (map[string][]byte, []string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	var order []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, h.Name)
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[h.Name] = b
		}
	}
	return files, order
}

func TestDockerArchiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	a, b := plainImage(t, 1, 2), gzipImage(t, 2, 3)
	in := []NamedImage{
		{Image: a, Names: []string{"busybox:latest", "docker.io/library/busybox:1"}},
		{Image: b, Names: []string{"localhost:5000/x:y"}},
	}
	p := writeFile(t, func(w io.Writer) error { return WriteDockerArchive(ctx, w, in) })

	// The layout docker load expects.
	files, order := tarFiles(t, p)
	if !sort.StringsAreSorted(order) {
		t.Errorf("entries not sorted: %v", order)
	}
	var dms []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &dms); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	var want []dockerManifest
	for _, ni := range []struct {
		img  v1.Image
		tags []string
	}{{a, []string{"busybox:latest", "busybox:1"}}, {b, []string{"localhost:5000/x:y"}}} {
		cn, _ := ni.img.ConfigName()
		cf, _ := ni.img.ConfigFile()
		dm := dockerManifest{Config: "blobs/sha256/" + cn.Hex, RepoTags: ni.tags}
		for _, d := range cf.RootFS.DiffIDs {
			dm.Layers = append(dm.Layers, "blobs/sha256/"+d.Hex)
		}
		want = append(want, dm)
	}
	if diff := cmp.Diff(dms, want); diff != "" {
		t.Errorf("manifest.json (-got +want):\n%s", diff)
	}
	for _, dm := range dms {
		for _, f := range append([]string{dm.Config}, dm.Layers...) {
			c, ok := files[f]
			if !ok {
				t.Errorf("manifest.json names %s, not in the tar", f)
				continue
			}
			if h := sha256.Sum256(c); "blobs/sha256/"+hex.EncodeToString(h[:]) != f {
				t.Errorf("%s does not hash to its name", f)
			}
		}
	}
	if got := string(files["oci-layout"]); got != ociLayoutFile {
		t.Errorf("oci-layout = %q", got)
	}
	var repos map[string]map[string]string
	if err := json.Unmarshal(files["repositories"], &repos); err != nil {
		t.Fatalf("repositories: %v", err)
	}
	if got := len(repos["busybox"]) + len(repos["localhost:5000/x"]); got != 3 {
		t.Errorf("repositories = %v", repos)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	var gotNames []string
	for _, d := range idx.Manifests {
		gotNames = append(gotNames, d.Annotations[annotationImageName]+" "+d.Annotations[annotationRefName])
	}
	wantNames := []string{"docker.io/library/busybox:latest latest", "docker.io/library/busybox:1 1", "localhost:5000/x:y y"}
	if diff := cmp.Diff(gotNames, wantNames); diff != "" {
		t.Errorf("index.json names (-got +want):\n%s", diff)
	}

	// Read back: through manifest.json, and through the OCI layout alone.
	out, err := ReadArchive(ctx, p)
	if err != nil {
		t.Fatalf("ReadArchive: %v", err)
	}
	var gots, wants []summary
	for i, ni := range out {
		mustValidate(t, ni.Image)
		gots = append(gots, summarize(t, ni))
		wants = append(wants, summarize(t, NamedImage{Image: in[i].Image, Names: want[i].RepoTags}))
	}
	if diff := cmp.Diff(gots, wants); diff != "" {
		t.Errorf("read back (-got +want):\n%s", diff)
	}
	f, _ := os.Open(p)
	defer f.Close()
	ix, err := indexTar(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	viaOCI, err := readOCI(ix)
	if err != nil {
		t.Fatalf("reading the OCI layout part: %v", err)
	}
	if len(viaOCI) != 2 {
		t.Fatalf("OCI layout part has %d images, want 2", len(viaOCI))
	}
	for _, ni := range viaOCI {
		mustValidate(t, ni.Image)
	}
	if diff := cmp.Diff(viaOCI[1].Names, []string{"localhost:5000/x:y"}); diff != "" {
		t.Errorf("OCI layout part names (-got +want):\n%s", diff)
	}
}

func TestDockerArchiveDeterministic(t *testing.T) {
	ctx := context.Background()
	in := []NamedImage{
		{Image: gzipImage(t, 3, 2), Names: []string{"a:1"}},
		{Image: plainImage(t, 4, 2), Names: []string{"b:2", "c:3"}},
		{Image: plainImage(t, 5, 1)},
	}
	for _, w := range []struct {
		name  string
		write func(context.Context, io.Writer, []NamedImage) error
	}{{"docker", WriteDockerArchive}, {"oci", WriteOCIArchive}} {
		t.Run(w.name, func(t *testing.T) {
			var b1, b2 bytes.Buffer
			if err := w.write(ctx, &b1, in); err != nil {
				t.Fatal(err)
			}
			if err := w.write(ctx, &b2, in); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
				t.Error("two writes of the same images differ")
			}
		})
	}
}

func TestOCIArchiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	in := []NamedImage{
		{Image: gzipImage(t, 6, 2), Names: []string{"ghcr.io/org/app:v1"}},
		{Image: plainImage(t, 7, 2), Names: []string{"app:dev"}},
	}
	p := writeFile(t, func(w io.Writer) error { return WriteOCIArchive(ctx, w, in) })
	files, _ := tarFiles(t, p)
	if _, ok := files["manifest.json"]; ok {
		t.Error("OCI archive has a manifest.json")
	}
	out, err := ReadArchive(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("read %d images, want 2", len(out))
	}
	wantNames := [][]string{{"ghcr.io/org/app:v1"}, {"docker.io/library/app:dev"}}
	for i, ni := range out {
		mustValidate(t, ni.Image)
		got, _ := ni.Image.Digest()
		want, _ := in[i].Image.Digest()
		if got != want {
			t.Errorf("image %d: manifest digest %s, want %s", i, got, want)
		}
		if diff := cmp.Diff(ni.Names, wantNames[i]); diff != "" {
			t.Errorf("image %d names (-got +want):\n%s", i, diff)
		}
	}
}

// tarEntry is an entry for buildTar.
type tarEntry struct {
	name, link string
	data       []byte
	typ        byte
}

func buildTar(t *testing.T, entries []tarEntry) string {
	t.Helper()
	return writeFile(t, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, e := range entries {
			typ := e.typ
			if typ == 0 {
				typ = tar.TypeReg
			}
			h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Size: int64(len(e.data)), Mode: 0o644}
			if typ != tar.TypeReg {
				h.Size = 0
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if typ == tar.TypeReg {
				if _, err := tw.Write(e.data); err != nil {
					return err
				}
			}
		}
		return tw.Close()
	})
}

// legacyArchive builds the archive old `docker save` wrote: <id>/layer.tar
// per layer (a repeated layer as a symlink to the first), <config hex>.json,
// manifest.json and repositories.
func legacyArchive(t *testing.T, img v1.Image, tag string) string {
	t.Helper()
	cfg, _ := img.RawConfigFile()
	cn, _ := img.ConfigName()
	ls, _ := img.Layers()
	var es []tarEntry
	var paths []string
	first := map[v1.Hash]string{}
	parent := ""
	for i, l := range ls {
		d, _ := l.DiffID()
		sum := sha256.Sum256([]byte(parent + d.String()))
		id := hex.EncodeToString(sum[:])
		if i == 0 {
			id = strings.Repeat("long-directory-name-", 6) + id // needs a PAX header
		}
		parent = id
		es = append(es,
			tarEntry{name: id + "/", typ: tar.TypeDir},
			tarEntry{name: id + "/VERSION", data: []byte("1.0")},
			tarEntry{name: id + "/json", data: []byte(fmt.Sprintf(`{"id":%q}`, id))})
		if f, ok := first[d]; ok {
			es = append(es, tarEntry{name: id + "/layer.tar", link: "../" + f, typ: tar.TypeSymlink})
		} else {
			rc, _ := l.Uncompressed()
			b, _ := io.ReadAll(rc)
			rc.Close()
			es = append(es, tarEntry{name: id + "/layer.tar", data: b})
			first[d] = id + "/layer.tar"
		}
		paths = append(paths, id+"/layer.tar")
	}
	mj, _ := json.Marshal([]dockerManifest{{Config: cn.Hex + ".json", RepoTags: []string{tag}, Layers: paths}})
	repo, tg, _ := strings.Cut(tag, ":")
	es = append(es,
		tarEntry{name: cn.Hex + ".json", data: cfg},
		tarEntry{name: "manifest.json", data: mj},
		tarEntry{name: "repositories", data: []byte(fmt.Sprintf(`{%q:{%q:%q}}`, repo, tg, parent))})
	return buildTar(t, es)
}

func TestReadLegacyArchive(t *testing.T) {
	ctx := context.Background()
	base := plainImage(t, 10, 2)
	ls, _ := base.Layers()
	img, err := mutate.AppendLayers(base, ls[0]) // the same layer twice
	if err != nil {
		t.Fatal(err)
	}
	p := legacyArchive(t, img, "legacy:v1")
	out, err := ReadArchive(ctx, p)
	if err != nil {
		t.Fatalf("ReadArchive: %v", err)
	}
	if len(out) != 1 {
		t.Fatalf("read %d images, want 1", len(out))
	}
	mustValidate(t, out[0].Image)
	if diff := cmp.Diff(summarize(t, out[0]), summarize(t, NamedImage{Image: img, Names: []string{"legacy:v1"}})); diff != "" {
		t.Errorf("read back (-got +want):\n%s", diff)
	}
}

func TestReadGGCRTarball(t *testing.T) {
	// go-containerregistry's tarball.Write: Config "sha256:<hex>", gzip layers named <hex>.tar.gz.
	ctx := context.Background()
	img := gzipImage(t, 11, 2)
	tag, err := name.NewTag("registry.example/a/b:c")
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, func(w io.Writer) error { return tarball.Write(tag, img, w) })
	out, err := ReadArchive(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("read %d images, want 1", len(out))
	}
	mustValidate(t, out[0].Image)
	if diff := cmp.Diff(summarize(t, out[0]), summarize(t, NamedImage{Image: img, Names: []string{"registry.example/a/b:c"}})); diff != "" {
		t.Errorf("read back (-got +want):\n%s", diff)
	}
}

func TestReadArchiveHostile(t *testing.T) {
	ctx := context.Background()
	img := plainImage(t, 12, 1)
	cfg, _ := img.RawConfigFile()
	cn, _ := img.ConfigName()
	ls, _ := img.Layers()
	rc, _ := ls[0].Uncompressed()
	layerTar, _ := io.ReadAll(rc)
	manifest := func(cfgPath string, layers ...string) []byte {
		b, _ := json.Marshal([]dockerManifest{{Config: cfgPath, RepoTags: []string{"x:y"}, Layers: layers}})
		return b
	}
	good := []tarEntry{
		{name: "l/layer.tar", data: layerTar},
		{name: cn.Hex + ".json", data: cfg},
	}
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"dotdot", append([]tarEntry{{name: "../x", data: []byte("x")}}, good...), "escapes"},
		{"dotdot-inside", append([]tarEntry{{name: "a/../../x", data: []byte("x")}}, good...), "escapes"},
		{"absolute", append([]tarEntry{{name: "/etc/x", data: []byte("x")}}, good...), "absolute"},
		{"symlink-escape", append([]tarEntry{{name: "l2/layer.tar", link: "../../etc/passwd", typ: tar.TypeSymlink}}, good...), "escapes"},
		{"device", append([]tarEntry{{name: "dev", typ: tar.TypeChar}}, good...), "unsupported type"},
		{"duplicate", append([]tarEntry{{name: "l/layer.tar", data: []byte("x")}}, good...), "twice"},
		{"missing-layer", append([]tarEntry{{name: "manifest.json", data: manifest(cn.Hex+".json", "nope/layer.tar")}}, good...), `"nope/layer.tar", which is not in the archive`},
		{"missing-config", append([]tarEntry{{name: "manifest.json", data: manifest("nope.json", "l/layer.tar")}}, good...), `"nope.json", which is not in the archive`},
		{"config-digest", []tarEntry{
			{name: "l/layer.tar", data: layerTar},
			{name: cn.Hex + ".json", data: append(append([]byte{}, cfg...), ' ')},
			{name: "manifest.json", data: manifest(cn.Hex+".json", "l/layer.tar")},
		}, "has digest"},
		{"layer-count", append([]tarEntry{{name: "manifest.json", data: manifest(cn.Hex + ".json")}}, good...), "diff_ids"},
		{"not-an-archive", []tarEntry{{name: "hello", data: []byte("x")}}, "no manifest.json or index.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := tc.entries
			if tc.name != "not-an-archive" && !strings.HasPrefix(tc.name, "missing") && tc.name != "config-digest" && tc.name != "layer-count" {
				es = append(es, tarEntry{name: "manifest.json", data: manifest(cn.Hex+".json", "l/layer.tar")})
			}
			_, err := ReadArchive(ctx, buildTar(t, es))
			if err == nil {
				t.Fatal("ReadArchive succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		p := buildTar(t, append(good, tarEntry{name: "manifest.json", data: manifest(cn.Hex+".json", "l/layer.tar")}))
		fi, _ := os.Stat(p)
		// Cut the archive inside the layer's data.
		if err := os.Truncate(p, fi.Size()/3); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadArchive(ctx, p); err == nil {
			t.Fatal("ReadArchive of a truncated archive succeeded")
		}
	})
}

// TestReadArchiveTampered flips a byte of a layer: reading the archive
// works (layers are lazy) but reading the layer fails.
func TestReadArchiveTampered(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		img   v1.Image
		write func(context.Context, io.Writer, []NamedImage) error
	}{
		{"docker-plain", plainImage(t, 13, 1), WriteDockerArchive},
		{"docker-from-gzip", gzipImage(t, 14, 1), WriteDockerArchive},
		{"oci-gzip", gzipImage(t, 15, 1), WriteOCIArchive},
		{"oci-plain", plainImage(t, 16, 1), WriteOCIArchive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, func(w io.Writer) error {
				return tc.write(ctx, w, []NamedImage{{Image: tc.img, Names: []string{"t:1"}}})
			})
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			ix, err := indexTar(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			ls, _ := tc.img.Layers()
			dg, _ := ls[0].Digest()
			if tc.name == "docker-from-gzip" {
				dg, _ = ls[0].DiffID()
			}
			e, ok := ix.files["blobs/sha256/"+dg.Hex]
			if !ok {
				t.Fatalf("no layer blob %s", dg)
			}
			b := make([]byte, 1)
			off := e.off + e.size - 100 // inside the data, past any header
			f.ReadAt(b, off)
			b[0] ^= 0xff
			f.WriteAt(b, off)
			f.Close()

			out, err := ReadArchive(ctx, p)
			if err != nil {
				// the layers' tars are checked on reading: a flip
				// that breaks the tar is caught there already
				if !strings.Contains(err.Error(), "cannot be loaded") {
					t.Fatalf("ReadArchive: %v", err)
				}
				return
			}
			l, err := out[0].Image.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, open := range []func() (io.ReadCloser, error){l[0].Compressed, l[0].Uncompressed} {
				rc, err := open()
				if err == nil {
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
				}
				if err == nil {
					t.Error("reading a tampered layer succeeded")
				}
			}
		})
	}
}

func TestReadArchiveFromPipe(t *testing.T) {
	ctx := context.Background()
	img := plainImage(t, 17, 1)
	var buf bytes.Buffer
	if err := WriteDockerArchive(ctx, &buf, []NamedImage{{Image: img, Names: []string{"p:1"}}}); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.Write(buf.Bytes())
		w.Close()
	}()
	defer r.Close()
	out, err := ReadArchive(ctx, fmt.Sprintf("/proc/self/fd/%d", r.Fd()))
	if err != nil {
		t.Fatalf("ReadArchive from a pipe: %v", err)
	}
	mustValidate(t, out[0].Image)
}

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want imageName
	}{
		{"busybox", imageName{"docker.io/library/busybox:latest", "busybox:latest", "busybox", "latest"}},
		{"docker.io/library/busybox:1", imageName{"docker.io/library/busybox:1", "busybox:1", "busybox", "1"}},
		{"index.docker.io/user/app:v", imageName{"docker.io/user/app:v", "user/app:v", "user/app", "v"}},
		{"localhost:5000/x:y", imageName{"localhost:5000/x:y", "localhost:5000/x:y", "localhost:5000/x", "y"}},
		{"ghcr.io/a/b/c:d", imageName{"ghcr.io/a/b/c:d", "ghcr.io/a/b/c:d", "ghcr.io/a/b/c", "d"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseName(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tc.want, cmp.AllowUnexported(imageName{})); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
	if _, err := parseName("busybox@sha256:" + strings.Repeat("a", 64)); err == nil {
		t.Error("a digest reference was accepted as a name")
	}
}

// plainLayer is a layer of random content stored as an uncompressed tar.
// (random.Layer labels gzip content with the media type it is given.)
func plainLayer(size int64, src rand.Source, mt types.MediaType) (v1.Layer, error) {
	l, err := random.Layer(size, mt, random.WithSource(src))
	if err != nil {
		return nil, err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return static.NewLayer(b, mt), nil
}
