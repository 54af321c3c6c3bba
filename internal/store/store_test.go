package store

import (
	"context"

	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/strata-build/strata/internal/layer"
)

func TestOpen(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	must(t, err)
	for _, p := range []string{"oci-layout", "index.json", "blobs/sha256", "layers", "cache", "tmp"} {
		if _, err := os.Stat(filepath.Join(s.Root(), p)); err != nil {
			t.Errorf("layout: %v", err)
		}
	}
	if _, err := Open(root); err != nil {
		t.Errorf("reopening: %v", err)
	}
	other := t.TempDir()
	must(t, os.WriteFile(filepath.Join(other, "oci-layout"), []byte(`{"imageLayoutVersion":"2.0.0"}`), 0o644))
	if _, err := Open(other); err == nil || !strings.Contains(err.Error(), `"2.0.0"`) {
		t.Errorf("Open of a 2.0.0 layout: got %v, want a version error", err)
	}
	d, err := s.TempDir("x-")
	must(t, err)
	if filepath.Dir(d) != filepath.Join(s.Root(), "tmp") {
		t.Errorf("TempDir: got %s, want it under tmp/", d)
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Setenv("STRATA_ROOT", "/x/y")
	if got := DefaultRoot(); got != "/x/y" {
		t.Errorf("with STRATA_ROOT: got %s", got)
	}
	t.Setenv("STRATA_ROOT", "")
	want := "/var/lib/strata"
	if os.Geteuid() != 0 {
		t.Setenv("XDG_DATA_HOME", "/xdg")
		want = "/xdg/strata"
	}
	if got := DefaultRoot(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestImageLookup(t *testing.T) {
	s := openStore(t)
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	img := randomImage(t, created)
	rec, err := s.WriteImage(ctxT(t), img, "foo:bar", "reg:5000/x/y:t")
	must(t, err)
	digest, err := img.Digest()
	must(t, err)
	id, err := img.ConfigName()
	must(t, err)
	var wantSize int64
	layers, _ := img.Layers()
	for _, l := range layers {
		rc, err := l.Uncompressed()
		must(t, err)
		n, err := layer.ContentSize(rc) // docker's size: the content's bytes
		rc.Close()
		must(t, err)
		wantSize += n
	}
	want := Record{
		Names:    []string{"docker.io/library/foo:bar", "reg:5000/x/y:t"},
		Manifest: digest, ID: id, Created: created, Size: wantSize,
	}
	if diff := cmp.Diff(rec, want); diff != "" {
		t.Errorf("WriteImage record (-got +want):\n%s", diff)
	}
	for _, ref := range []string{
		"foo:bar", "docker.io/library/foo:bar", "reg:5000/x/y:t",
		id.String(), id.Hex, id.Hex[:12], "sha256:" + id.Hex[:4],
		"foo@" + digest.String(), "reg:5000/x/y@" + digest.String(),
	} {
		t.Run(ref, func(t *testing.T) {
			got, r, err := s.Image(ref)
			must(t, err)
			if diff := cmp.Diff(r, want); diff != "" {
				t.Errorf("record (-got +want):\n%s", diff)
			}
			gd, err := got.Digest()
			must(t, err)
			if gd != digest {
				t.Errorf("digest: got %s, want %s", gd, digest)
			}
			must(t, validate.Image(got))
		})
	}
	for _, tc := range []struct{ ref, msg string }{
		{"nope", "no such image: nope:latest"},
		{"foo", "no such image: foo:latest"},
		{"other@" + digest.String(), "no such image: other@" + digest.String()},
		{"sha256:" + strings.Repeat("0", 64), "no such image: sha256:" + strings.Repeat("0", 64)},
	} {
		t.Run("missing "+tc.ref, func(t *testing.T) {
			_, _, err := s.Image(tc.ref)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
			if err.Error() != tc.msg {
				t.Errorf("got %q, want %q", err.Error(), tc.msg)
			}
		})
	}
}

func TestLayoutReadsStore(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, time.Unix(1, 0))
	_, err := s.WriteImage(ctxT(t), img, "foo")
	must(t, err)
	_, err = s.WriteImage(ctxT(t), tarImage(t, makeTar(t, tarEntry{name: "a", typ: '0', body: "x"})), "bar")
	must(t, err)
	p, err := layout.FromPath(s.Root())
	must(t, err)
	ii, err := p.ImageIndex()
	must(t, err)
	im, err := ii.IndexManifest()
	must(t, err)
	if len(im.Manifests) != 2 {
		t.Fatalf("index.json: got %d manifests, want 2", len(im.Manifests))
	}
	for _, d := range im.Manifests {
		li, err := p.Image(d.Digest)
		must(t, err)
		checkImage(t, li)
	}
	if got := im.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != "docker.io/library/foo:latest" {
		t.Errorf("ref.name: got %q", got)
	}
}

func TestUncompressedLayer(t *testing.T) {
	s := openStore(t)
	tb := makeTar(t, tarEntry{name: "etc/", typ: '5'}, tarEntry{name: "etc/hello", typ: '0', body: "hello world"})
	img := tarImage(t, tb)
	rec, err := s.WriteImage(ctxT(t), img, "plain:1")
	must(t, err)
	if want := int64(len("hello world")); rec.Size != want {
		t.Errorf("size: got %d, want %d", rec.Size, want)
	}
	got, _, err := s.Image("plain:1")
	must(t, err)
	checkImage(t, got)
	layers, err := got.Layers()
	must(t, err)
	if len(layers) != 1 {
		t.Fatalf("got %d layers", len(layers))
	}
	sum := sha256.Sum256(tb)
	want := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	d, err := layers[0].DiffID()
	must(t, err)
	if d != want {
		t.Errorf("DiffID: got %s, want %s", d, want)
	}
	rc, err := layers[0].Uncompressed()
	must(t, err)
	b, err := io.ReadAll(rc)
	must(t, err)
	rc.Close()
	if !bytes.Equal(b, tb) {
		t.Errorf("Uncompressed: got %d bytes, want the %d-byte tar", len(b), len(tb))
	}
	mt, err := layers[0].MediaType()
	must(t, err)
	if mt != "application/vnd.oci.image.layer.v1.tar" {
		t.Errorf("media type: got %s", mt)
	}
}

func TestNormalize(t *testing.T) {
	dg := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct{ in, want, err string }{
		{"busybox", "docker.io/library/busybox:latest", ""},
		{"library/busybox", "docker.io/library/busybox:latest", ""},
		{"docker.io/busybox", "docker.io/library/busybox:latest", ""},
		{"index.docker.io/busybox:1", "docker.io/library/busybox:1", ""},
		{"docker.io/foo/bar", "docker.io/foo/bar:latest", ""},
		{"localhost:5000/x", "localhost:5000/x:latest", ""},
		{"localhost/x:1", "localhost/x:1", ""},
		{"x:tag", "docker.io/library/x:tag", ""},
		{"reg.io/a/b/c:v1.2", "reg.io/a/b/c:v1.2", ""},
		{"x@" + dg, "docker.io/library/x@" + dg, ""},
		{"x:tag@" + dg, "docker.io/library/x@" + dg, ""},
		{"UPPER", "", "repository name must be lowercase"},
		{"Reg.IO/x", "Reg.IO/x:latest", ""},
		{"a/-b", "", "invalid repository path component"},
		{"x:-tag", "", "invalid tag"},
		{"", "", "empty name"},
		{strings.Repeat("ab", 32), "", "64-byte hexadecimal"},
		{"x@sha256:12", "", "invalid image reference"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Normalize(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			must(t, err)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFamiliarName(t *testing.T) {
	for _, tc := range []struct{ in, fam, repo, tag string }{
		{"docker.io/library/busybox:latest", "busybox:latest", "busybox", "latest"},
		{"docker.io/foo/bar:1", "foo/bar:1", "foo/bar", "1"},
		{"docker.io/library/a/b:1", "library/a/b:1", "library/a/b", "1"},
		{"localhost:5000/x:latest", "localhost:5000/x:latest", "localhost:5000/x", "latest"},
		{"docker.io/library/x@sha256:ab", "x@sha256:ab", "x", "<none>"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := FamiliarName(tc.in); got != tc.fam {
				t.Errorf("FamiliarName: got %q, want %q", got, tc.fam)
			}
			repo, tag := RepoTag(tc.in)
			if repo != tc.repo || tag != tc.tag {
				t.Errorf("RepoTag: got %q %q, want %q %q", repo, tag, tc.repo, tc.tag)
			}
		})
	}
}

func TestBlobs(t *testing.T) {
	s := openStore(t)
	content := []byte("some blob content")
	h, n, err := s.WriteBlob(bytes.NewReader(content), nil)
	must(t, err)
	if n != int64(len(content)) || !s.HasBlob(h) {
		t.Fatalf("WriteBlob: %s %d", h, n)
	}
	size, err := s.BlobSize(h)
	must(t, err)
	if size != n {
		t.Errorf("BlobSize: got %d, want %d", size, n)
	}
	// Writing it again is a no-op.
	h2, _, err := s.WriteBlob(bytes.NewReader(content), &h)
	must(t, err)
	if h2 != h {
		t.Errorf("rewrite: got %s", h2)
	}
	rc, err := s.OpenBlob(h)
	must(t, err)
	b, err := io.ReadAll(rc)
	must(t, err)
	rc.Close()
	if !bytes.Equal(b, content) {
		t.Errorf("OpenBlob: got %q", b)
	}

	missing := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	if _, err := s.OpenBlob(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenBlob of a missing blob: got %v, want ErrNotFound", err)
	}
	if _, err := s.BlobSize(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("BlobSize of a missing blob: got %v, want ErrNotFound", err)
	}

	t.Run("large", func(t *testing.T) {
		// Past writebackEvery, the writer starts the writeback of what it
		// wrote: the blob is still every byte, in order.
		big := make([]byte, 3*writebackEvery+12345)
		for i := range big {
			big[i] = byte(i * 7 / 3)
		}
		h, n, err := s.WriteBlob(bytes.NewReader(big), nil)
		must(t, err)
		want := sha256.Sum256(big)
		if n != int64(len(big)) || h.Hex != hex.EncodeToString(want[:]) {
			t.Fatalf("WriteBlob: got %s, %d bytes; want sha256:%x, %d", h, n, want, len(big))
		}
		data, err := os.ReadFile(filepath.Join(s.Root(), "blobs", "sha256", h.Hex))
		must(t, err)
		if !bytes.Equal(data, big) {
			t.Error("the blob's file differs from what was written")
		}
	})
	t.Run("mismatch", func(t *testing.T) {
		_, _, err := s.WriteBlob(strings.NewReader("other"), &missing)
		if err == nil || !strings.Contains(err.Error(), "expected "+missing.String()) {
			t.Errorf("got %v, want a digest mismatch", err)
		}
		if s.HasBlob(missing) {
			t.Error("mismatched blob stored")
		}
		if got := listDir(t, filepath.Join(s.Root(), "tmp")); len(got) != 0 {
			t.Errorf("tmp/ after mismatch: %v", got)
		}
	})
	t.Run("abort", func(t *testing.T) {
		before := blobCount(t, s)
		w, err := s.BlobWriter()
		must(t, err)
		_, err = w.Write([]byte("aborted"))
		must(t, err)
		must(t, w.Close())
		if got := blobCount(t, s); got != before {
			t.Errorf("blobs after abort: got %d, want %d", got, before)
		}
		if got := listDir(t, filepath.Join(s.Root(), "tmp")); len(got) != 0 {
			t.Errorf("tmp/ after abort: %v", got)
		}
	})
	t.Run("close after commit", func(t *testing.T) {
		w, err := s.BlobWriter()
		must(t, err)
		_, err = w.Write([]byte("committed"))
		must(t, err)
		h, _, err := w.Commit(nil)
		must(t, err)
		must(t, w.Close())
		if !s.HasBlob(h) {
			t.Error("committed blob missing after Close")
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		p := filepath.Join(s.Root(), "blobs", "sha256", h.Hex)
		b, err := os.ReadFile(p)
		must(t, err)
		b[3] ^= 0x20
		must(t, os.WriteFile(p, b, 0o644))
		rc, err := s.OpenBlob(h)
		must(t, err)
		defer rc.Close()
		_, err = io.ReadAll(rc)
		if err == nil || !strings.Contains(err.Error(), "blob "+h.String()+" is corrupt (content hashes to sha256:") ||
			!strings.HasSuffix(err.Error(), "pull, load or build it again") {
			t.Errorf("got %v, want a corruption error", err)
		}
	})
}

func TestCorruptLayerFailsValidation(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, time.Unix(1, 0))
	_, err := s.WriteImage(ctxT(t), img, "x")
	must(t, err)
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	p := filepath.Join(s.Root(), "blobs", "sha256", d.Hex)
	b, err := os.ReadFile(p)
	must(t, err)
	b[len(b)-1] ^= 1
	must(t, os.WriteFile(p, b, 0o644))
	got, _, err := s.Image("x")
	must(t, err)
	if err := validate.Image(got); err == nil {
		t.Error("validate.Image passed on a corrupt layer")
	}
}

func TestTagUntagRemove(t *testing.T) {
	s := openStore(t)
	a := randomImage(t, time.Unix(100, 0))
	b := randomImage(t, time.Unix(200, 0))
	recA, err := s.WriteImage(ctxT(t), a, "a:1")
	must(t, err)
	recB, err := s.WriteImage(ctxT(t), b, "b:1")
	must(t, err)

	must(t, s.Tag("a:1", "a:2"))
	must(t, s.Tag(recA.ID.Hex[:8], "other/a"))
	// "zz" is zz:latest, which does not exist (and is no ID prefix).
	if err := s.Tag("zz", "localhost:5000/b:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Tag of a:latest: got %v", err)
	}
	// Moving a name: b:1 now points at a, and b has no name left.
	must(t, s.Tag("a:2", "b:1"))
	if err := s.Tag("nope", "c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Tag of an unknown image: got %v", err)
	}
	if err := s.Tag("a:1", "c@sha256:"+strings.Repeat("0", 64)); err == nil {
		t.Error("Tag with a digest name succeeded")
	}
	if err := s.Tag("a:1", "Bad"); err == nil {
		t.Error("Tag with an invalid name succeeded")
	}
	imgs, err := s.Images()
	must(t, err)
	want := []Record{{
		Names:    []string{"docker.io/library/a:1", "docker.io/library/a:2", "docker.io/library/b:1", "docker.io/other/a:latest"},
		Manifest: recA.Manifest, ID: recA.ID, Created: recA.Created, Size: recA.Size,
	}}
	if diff := cmp.Diff(imgs, want); diff != "" {
		t.Errorf("Images (-got +want):\n%s", diff)
	}
	if _, _, err := s.Image(recB.ID.String()); !errors.Is(err, ErrNotFound) {
		t.Errorf("b by ID after losing its name: got %v", err)
	}

	must(t, s.Untag("a:2"))
	if err := s.Untag("a:2"); !errors.Is(err, ErrNotFound) || err.Error() != "no such image: a:2" {
		t.Errorf("second Untag: got %v", err)
	}

	// By ID with several names: refused without Force.
	_, err = s.Remove(ctxT(t), recA.ID.Hex[:12], RemoveOptions{})
	if err == nil || !strings.Contains(err.Error(), "must be forced") {
		t.Errorf("Remove by ID of a multiply-named image: got %v", err)
	}
	// By name: untag only.
	lines, err := s.Remove(ctxT(t), "other/a", RemoveOptions{})
	must(t, err)
	if diff := cmp.Diff(lines, []string{"Untagged: other/a:latest"}); diff != "" {
		t.Errorf("Remove other/a (-got +want):\n%s", diff)
	}
	// By ID with Force: every name, then the image.
	lines, err = s.Remove(ctxT(t), recA.ID.String(), RemoveOptions{Force: true})
	must(t, err)
	if diff := cmp.Diff(lines, []string{"Untagged: a:1", "Untagged: b:1", "Deleted: " + recA.ID.String()}); diff != "" {
		t.Errorf("Remove -f (-got +want):\n%s", diff)
	}
	if got := blobCount(t, s); got != 0 {
		t.Errorf("blobs after removing every image: %d", got)
	}

	// By last name: untagged and deleted.
	_, err = s.WriteImage(ctxT(t), a, "solo")
	must(t, err)
	lines, err = s.Remove(ctxT(t), "solo", RemoveOptions{})
	must(t, err)
	if diff := cmp.Diff(lines, []string{"Untagged: solo:latest", "Deleted: " + recA.ID.String()}); diff != "" {
		t.Errorf("Remove solo (-got +want):\n%s", diff)
	}
	// By ID with a single name: no force needed.
	_, err = s.WriteImage(ctxT(t), a, "one")
	must(t, err)
	lines, err = s.Remove(ctxT(t), recA.ID.Hex[:6], RemoveOptions{})
	must(t, err)
	if diff := cmp.Diff(lines, []string{"Untagged: one:latest", "Deleted: " + recA.ID.String()}); diff != "" {
		t.Errorf("Remove by ID (-got +want):\n%s", diff)
	}
	if _, err := s.Remove(ctxT(t), "gone", RemoveOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of an unknown image: got %v", err)
	}

	// A pulled image's digest name goes with the last tag of its repository,
	// as in docker.
	dg := recA.Manifest.String()
	_, err = s.WriteImage(ctxT(t), a, "pulled:1", "pulled:2", "pulled@"+dg)
	must(t, err)
	lines, err = s.Remove(ctxT(t), "pulled:1", RemoveOptions{})
	must(t, err)
	if diff := cmp.Diff(lines, []string{"Untagged: pulled:1"}); diff != "" {
		t.Errorf("Remove pulled:1 (-got +want):\n%s", diff)
	}
	lines, err = s.Remove(ctxT(t), "pulled:2", RemoveOptions{})
	must(t, err)
	if diff := cmp.Diff(lines, []string{"Untagged: pulled:2", "Untagged: pulled@" + dg, "Deleted: " + recA.ID.String()}); diff != "" {
		t.Errorf("Remove pulled:2 (-got +want):\n%s", diff)
	}
}

func TestImagesOrder(t *testing.T) {
	s := openStore(t)
	old := randomImage(t, time.Unix(100, 0))
	mid := randomImage(t, time.Unix(200, 0))
	newer := randomImage(t, time.Unix(300, 0))
	for _, w := range []struct {
		img   v1.Image
		names []string
	}{{mid, []string{"mid"}}, {newer, []string{"new", "new:2"}}, {old, []string{"old"}}} {
		_, err := s.WriteImage(ctxT(t), w.img, w.names...)
		must(t, err)
	}
	recs, err := s.Images()
	must(t, err)
	var got [][]string
	for _, r := range recs {
		got = append(got, r.Names)
	}
	want := [][]string{
		{"docker.io/library/new:2", "docker.io/library/new:latest"},
		{"docker.io/library/mid:latest"},
		{"docker.io/library/old:latest"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Images (-got +want):\n%s", diff)
	}
}

func TestWriteImageRefusesIndex(t *testing.T) {
	s := openStore(t)
	img := &indexTyped{randomImage(t, time.Unix(1, 0))}
	if _, err := s.WriteImage(ctxT(t), img, "x"); err == nil || !strings.Contains(err.Error(), "pick a platform") {
		t.Errorf("got %v, want a refusal", err)
	}
}

// indexTyped is an image that claims an index media type.
type indexTyped struct{ v1.Image }

func (indexTyped) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

// TestHelperTagger is not a test: TestConcurrentTags runs it in a second
// process to tag names in the same store.
func TestHelperTagger(t *testing.T) {
	root := os.Getenv("STRATA_STORE_HELPER_ROOT")
	if root == "" {
		return
	}
	s, err := Open(root)
	must(t, err)
	for i := 0; i < 20; i++ {
		must(t, s.Tag("base", fmt.Sprintf("proc%d", i)))
	}
}

func TestConcurrentTags(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	must(t, err)
	_, err = s.WriteImage(ctxT(t), randomImage(t, time.Unix(1, 0)), "base")
	must(t, err)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTagger$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STRATA_STORE_HELPER_ROOT="+root)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root)
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < 20; i++ {
				if err := s.Tag("base", fmt.Sprintf("g%d-%d", g, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v\n%s", err, out.String())
	}
	_, rec, err := s.Image("base")
	must(t, err)
	if got, want := len(rec.Names), 1+8*20+20; got != want {
		t.Errorf("names: got %d, want %d", got, want)
	}
}

func TestCacheRecords(t *testing.T) {
	s := openStore(t)
	h, _, err := s.WriteBlob(strings.NewReader("layer"), nil)
	must(t, err)
	rec := CacheRecord{Key: "abcd", Created: time.Unix(5, 0).UTC(), Blobs: []v1.Hash{h}, Data: []byte(`{"x":1}`)}
	must(t, s.PutCache(rec))
	got, ok, err := s.GetCache("abcd")
	must(t, err)
	if !ok {
		t.Fatal("GetCache: record absent")
	}
	if diff := cmp.Diff(got, rec); diff != "" {
		t.Errorf("GetCache (-got +want):\n%s", diff)
	}
	if _, ok, err := s.GetCache("0123"); ok || err != nil {
		t.Errorf("GetCache of an unknown key: %v %v", ok, err)
	}
	if _, _, err := s.GetCache("../x"); err == nil {
		t.Error("GetCache accepted a non-hex key")
	}
	missing := rec
	missing.Key = "ef01"
	missing.Blobs = []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}}
	must(t, s.PutCache(missing))
	if _, ok, _ := s.GetCache("ef01"); ok {
		t.Error("a record whose blob is missing is present")
	}
	all, err := s.CacheRecords()
	must(t, err)
	if len(all) != 2 || all[0].Key != "abcd" || all[1].Key != "ef01" {
		t.Errorf("CacheRecords: %+v", all)
	}
	must(t, s.DeleteCache("ef01"))
	if err := s.DeleteCache("ef01"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteCache: %v", err)
	}
}

func TestGC(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, time.Unix(1, 0))
	_, err := s.WriteImage(ctxT(t), img, "keep")
	must(t, err)
	kept := blobCount(t, s) // 2 layers, config, manifest
	loose, n, err := s.WriteBlob(strings.NewReader("unreferenced"), nil)
	must(t, err)
	cached, _, err := s.WriteBlob(strings.NewReader("held by a cache record"), nil)
	must(t, err)
	must(t, s.PutCache(CacheRecord{Key: "aa", Blobs: []v1.Hash{cached}, Chains: []v1.Hash{cached}}))

	// Layer dirs: one of the image's chains, one held by the cache, one loose.
	cf, _ := img.ConfigFile()
	chains := ChainIDs(cf.RootFS.DiffIDs)
	for _, c := range []v1.Hash{chains[1], cached, loose} {
		d, err := s.TempDir("up-")
		must(t, err)
		must(t, os.WriteFile(filepath.Join(d, "f"), []byte("12345"), 0o644))
		_, err = s.AddLayerDir(c, c, d)
		must(t, err)
	}
	// tmp/: one stale entry, one fresh.
	stale, err := s.TempDir("stale-")
	must(t, err)
	must(t, os.Chtimes(stale, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour)))
	fresh, err := s.TempDir("fresh-")
	must(t, err)

	unlock, err := s.RLock()
	must(t, err)
	st, err := s.GC(ctxT(t))
	must(t, err)
	if diff := cmp.Diff(st, GCStats{Deferred: true}); diff != "" {
		t.Errorf("GC under RLock (-got +want):\n%s", diff)
	}
	if !s.HasBlob(loose) {
		t.Error("deferred GC deleted a blob")
	}
	unlock()

	st, err = s.GC(ctxT(t))
	must(t, err)
	if diff := cmp.Diff(st, GCStats{Blobs: 1, Layers: 1, Temp: 1, Bytes: n + 5 + int64(len(loose.String()))}); diff != "" {
		t.Errorf("GC (-got +want):\n%s", diff)
	}
	if s.HasBlob(loose) || !s.HasBlob(cached) || blobCount(t, s) != kept+1 {
		t.Errorf("blobs after GC: loose %v cached %v count %d", s.HasBlob(loose), s.HasBlob(cached), blobCount(t, s))
	}
	for _, c := range []v1.Hash{chains[1], cached} {
		if _, ok := s.HasLayerDir(c); !ok {
			t.Errorf("GC deleted layer dir %s", c)
		}
	}
	if _, ok := s.HasLayerDir(loose); ok {
		t.Error("GC kept an unreferenced layer dir")
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("GC kept a stale tmp entry")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("GC deleted a fresh tmp entry")
	}
	got, _, err := s.Image("keep")
	must(t, err)
	must(t, validate.Image(got))
}

func TestAddLayerDir(t *testing.T) {
	s := openStore(t)
	c := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}
	d1, err := s.TempDir("up-")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(d1, "one"), nil, 0o644))
	ld, err := s.AddLayerDir(c, c, d1)
	must(t, err)
	want := LayerDir{ChainID: c, DiffID: c, Path: filepath.Join(s.Root(), "layers", c.Hex, "diff")}
	if diff := cmp.Diff(ld, want); diff != "" {
		t.Errorf("AddLayerDir (-got +want):\n%s", diff)
	}
	d2, err := s.TempDir("up-")
	must(t, err)
	ld2, err := s.AddLayerDir(c, c, d2)
	must(t, err)
	if diff := cmp.Diff(ld2, want); diff != "" {
		t.Errorf("second AddLayerDir (-got +want):\n%s", diff)
	}
	if _, err := os.Stat(d2); !os.IsNotExist(err) {
		t.Error("duplicate dir not removed")
	}
	if _, err := os.Stat(filepath.Join(ld.Path, "one")); err != nil {
		t.Error(err)
	}
	if got, ok := s.HasLayerDir(c); !ok || got != want {
		t.Errorf("HasLayerDir: %v %v", got, ok)
	}
}

func TestChainIDs(t *testing.T) {
	h := func(s string) v1.Hash {
		x, err := v1.NewHash(s)
		must(t, err)
		return x
	}
	a := h("sha256:" + strings.Repeat("a", 64))
	b := h("sha256:" + strings.Repeat("b", 64))
	sum := sha256.Sum256([]byte(a.String() + " " + b.String()))
	want := []v1.Hash{a, {Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
	if diff := cmp.Diff(ChainIDs([]v1.Hash{a, b}), want); diff != "" {
		t.Errorf("ChainIDs (-got +want):\n%s", diff)
	}
}

func TestDanglingImage(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.WriteImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.Images()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(recs[0].Names) != 0 || recs[0].ID != rec.ID {
		t.Fatalf("a build without -t must stay as a dangling image; images = %+v", recs)
	}
	if _, _, err := s.Image(rec.ID.String()); err != nil {
		t.Fatalf("dangling image not found by ID: %v", err)
	}
	if err := s.Tag(rec.ID.String(), "named:v1"); err != nil {
		t.Fatal(err)
	}
	recs, _ = s.Images()
	if len(recs) != 1 || len(recs[0].Names) != 1 {
		t.Fatalf("tagging a dangling image must name it, not add a second entry: %+v", recs)
	}
	if _, err := s.Remove(context.Background(), rec.ID.String(), RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if recs, _ = s.Images(); len(recs) != 0 {
		t.Fatalf("after rmi by ID: %+v", recs)
	}
}

// TestImageIDPrefix: any unambiguous prefix of an image ID names it, down
// to one digit, as docker takes them; an ambiguous one is an error naming
// every candidate. Seventeen images: two of them share a first digit.
func TestImageIDPrefix(t *testing.T) {
	s := openStore(t)
	byFirst := map[byte][]Record{}
	for i := 0; i < 17; i++ {
		rec, err := s.WriteImage(ctxT(t), randomImage(t, time.Unix(int64(100+i), 0)), fmt.Sprintf("img:%d", i))
		must(t, err)
		byFirst[rec.ID.Hex[0]] = append(byFirst[rec.ID.Hex[0]], rec)
	}
	for first, recs := range byFirst {
		prefix := string(first)
		if len(recs) == 1 {
			t.Run("unique "+prefix, func(t *testing.T) {
				_, got, err := s.Image(prefix)
				must(t, err)
				if got.ID != recs[0].ID {
					t.Errorf("Image(%q) = %s, want %s", prefix, got.ID, recs[0].ID)
				}
			})
			continue
		}
		t.Run("ambiguous "+prefix, func(t *testing.T) {
			_, _, err := s.Image(prefix)
			if !errors.Is(err, errAmbiguous) {
				t.Fatalf("Image(%q): %v, want an ambiguous prefix", prefix, err)
			}
			for _, r := range recs {
				if !strings.Contains(err.Error(), r.ID.Hex[:12]+" (img:") {
					t.Errorf("the error does not name %s: %v", r.ID.Hex[:12], err)
				}
			}
		})
	}
}

func TestContextHashes(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if b, err := s.ContextHashes("abcd"); b != nil || err != nil {
		t.Errorf("ContextHashes of an absent cache: %q, %v", b, err)
	}
	data := []byte("strata context hashes 1\nsome entries")
	must(t, s.PutContextHashes("abcd", data))
	b, err := s.ContextHashes("abcd")
	must(t, err)
	if string(b) != string(data) {
		t.Errorf("ContextHashes = %q, want %q", b, data)
	}
	for _, bad := range []string{"../x", "ABCD", ""} {
		if err := s.PutContextHashes(bad, data); err == nil {
			t.Errorf("PutContextHashes(%q): no error", bad)
		}
	}
	u, err := s.Usage(ctx)
	must(t, err)
	if u.Disk.BuildCache != int64(len(data)) {
		t.Errorf("df build cache = %d bytes, want the cache's %d", u.Disk.BuildCache, len(data))
	}
	// an image prune keeps it, a cache prune removes it, and says so
	st, err := s.Prune(ctx, PruneOptions{Images: PruneAllImages})
	must(t, err)
	if b, _ := s.ContextHashes("abcd"); b == nil || st.Reclaimed != 0 {
		t.Errorf("image prune -a: cache kept %v, reclaimed %d bytes", b != nil, st.Reclaimed)
	}
	st, err = s.Prune(ctx, PruneOptions{Cache: true})
	must(t, err)
	if b, _ := s.ContextHashes("abcd"); b != nil || st.Reclaimed != int64(len(data)) {
		t.Errorf("builder prune: cache kept %v, reclaimed %d bytes, want gone and %d", b != nil, st.Reclaimed, len(data))
	}
}
