package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/strata-build/strata/internal/layer"
)

// testOptions are fast retries and no credentials from the host.
func testOptions() Options {
	return Options{RetryDelay: time.Millisecond, Keychain: authn.NewMultiKeychain()}
}

// plainImage makes an image whose layers are uncompressed tars, the way
// strata stores what it builds.
func plainImage(t *testing.T, seed int64, layers int, manifestType types.MediaType) v1.Image {
	t.Helper()
	layerType, configType := types.OCIUncompressedLayer, types.OCIConfigJSON
	if manifestType == types.DockerManifestSchema2 {
		layerType, configType = types.DockerUncompressedLayer, types.DockerConfigJSON
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, manifestType), configType)
	src := rand.NewSource(seed)
	for range layers {
		l, err := plainLayer(4096, src, layerType)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Fatalf("test image: %v", err)
	}
	checkLayers(t, img)
	return img
}

// recorder is an http.Handler in front of the registry that logs requests
// and can misbehave.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	log  []string
	// intercept, when set, may answer a request itself (returning true).
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.log = append(rec.log, r.Method+" "+r.URL.Path)
	intercept := rec.intercept
	rec.mu.Unlock()
	if intercept != nil && intercept(w, r) {
		return
	}
	rec.next.ServeHTTP(w, r)
}

// count returns how many logged requests match method and contain part.
func (rec *recorder) count(method, part string) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, l := range rec.log {
		if strings.HasPrefix(l, method+" ") && strings.Contains(l, part) {
			n++
		}
	}
	return n
}

func (rec *recorder) reset() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.log = nil
}

// newRegistry starts an in-memory registry and returns its host:port.
func newRegistry(t *testing.T) (string, *recorder) {
	t.Helper()
	rec := &recorder{next: ggcrregistry.New(ggcrregistry.Logger(nilLogger()))}
	s := httptest.NewServer(rec)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://"), rec
}

func diffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs
}

func configName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// readAll reads every layer of img to the end, compressed and uncompressed.
func readAll(t *testing.T, img v1.Image) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		for _, open := range []func() (io.ReadCloser, error){l.Compressed, l.Uncompressed} {
			rc, err := open()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("reading layer: %v", err)
			}
			rc.Close()
		}
	}
}

// checkLayers hashes every layer of img, compressed and uncompressed, and
// compares with its digest and diff_id.
func checkLayers(t *testing.T, img v1.Image) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		for _, c := range []struct {
			open func() (io.ReadCloser, error)
			want func() (v1.Hash, error)
		}{{l.Compressed, l.Digest}, {l.Uncompressed, l.DiffID}} {
			rc, err := c.open()
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := v1.SHA256(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("layer %d: %v", i, err)
			}
			if want, _ := c.want(); got != want {
				t.Errorf("layer %d: content hashes to %s, want %s", i, got, want)
			}
		}
	}
}

func TestPushPull(t *testing.T) {
	for _, tc := range []struct {
		name         string
		manifestType types.MediaType
		compression  layer.Compression
		wantLayer    types.MediaType
		wantManifest types.MediaType
	}{
		{"oci-gzip", types.OCIManifestSchema1, "", types.OCILayer, types.OCIManifestSchema1},
		{"docker-gzip", types.DockerManifestSchema2, layer.Gzip, types.DockerLayer, types.DockerManifestSchema2},
		{"oci-zstd", types.OCIManifestSchema1, layer.Zstd, types.OCILayerZStd, types.OCIManifestSchema1},
		{"docker-zstd-becomes-oci", types.DockerManifestSchema2, layer.Zstd, types.OCILayerZStd, types.OCIManifestSchema1},
		{"uncompressed", types.OCIManifestSchema1, layer.Uncompressed, types.OCIUncompressedLayer, types.OCIManifestSchema1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			host, _ := newRegistry(t)
			img := plainImage(t, 1, 3, tc.manifestType)
			opts := testOptions()
			opts.Compression = tc.compression
			opts.TempDir = t.TempDir()
			ref := host + "/test/img:v1"
			dg, err := Push(ctx, img, ref, opts)
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			got, gotRef, err := Pull(ctx, ref, opts)
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if want := host + "/test/img@" + dg.String(); gotRef.String() != want {
				t.Errorf("Pull digest ref = %s, want %s", gotRef, want)
			}
			if g, w := configName(t, got), configName(t, img); g != w {
				t.Errorf("image ID = %s, want %s", g, w)
			}
			if diff := cmp.Diff(diffIDs(t, got), diffIDs(t, img)); diff != "" {
				t.Errorf("diff_ids (-got +want):\n%s", diff)
			}
			if mt, _ := got.MediaType(); mt != tc.wantManifest {
				t.Errorf("manifest media type = %s, want %s", mt, tc.wantManifest)
			}
			ls, err := got.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range ls {
				if mt, _ := l.MediaType(); mt != tc.wantLayer {
					t.Errorf("layer %d media type = %s, want %s", i, mt, tc.wantLayer)
				}
			}
			if tc.wantLayer == types.OCILayerZStd || tc.wantLayer == types.OCIUncompressedLayer {
				// validate.Image reads layers with gzip only.
				if err := validate.Image(got, validate.Fast); err != nil {
					t.Errorf("validate pulled image: %v", err)
				}
				checkLayers(t, got)
			} else if err := validate.Image(got); err != nil {
				t.Errorf("validate pulled image: %v", err)
			}
			if entries, _ := readDir(opts.TempDir); len(entries) != 0 {
				t.Errorf("temp dir not cleaned: %v", entries)
			}
		})
	}
}

func TestPushSkipsExistingBlobs(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t)
	img := plainImage(t, 2, 2, types.OCIManifestSchema1)
	ref := host + "/test/skip:v1"
	dg1, err := Push(ctx, img, ref, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.count("POST", "/blobs/uploads/"); got != 3 {
		t.Errorf("first push started %d uploads, want 3 (config + 2 layers)", got)
	}
	rec.reset()
	dg2, err := Push(ctx, img, host+"/test/skip:v2", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if dg2 != dg1 {
		t.Errorf("second push gave manifest %s, first %s: compression is not deterministic", dg2, dg1)
	}
	if got := rec.count("POST", "/blobs/uploads/") + rec.count("PUT", "/blobs/uploads/") + rec.count("PATCH", "/blobs/uploads/"); got != 0 {
		t.Errorf("second push made %d upload requests, want 0", got)
	}
	if got := rec.count("PUT", "/manifests/v2"); got != 1 {
		t.Errorf("second push PUT the manifest %d times, want 1", got)
	}
}

func TestPushRetriesServerErrors(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t)
	var mu sync.Mutex
	fails := 2
	rec.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 && r.URL.Path != "/v2/" {
			fails--
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}
		return false
	}
	img := plainImage(t, 3, 2, types.OCIManifestSchema1)
	if _, err := Push(ctx, img, host+"/test/flaky:v1", testOptions()); err != nil {
		t.Fatalf("Push with two 500s: %v", err)
	}
	got, _, err := Pull(ctx, host+"/test/flaky:v1", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Error(err)
	}
}

// hangUp reads n bytes of r's body (all of it for n < 0) and closes the
// connection without an answer, the way a flaky proxy drops one.
func hangUp(w http.ResponseWriter, r *http.Request, n int64) {
	if n < 0 {
		io.Copy(io.Discard, r.Body)
	} else {
		io.CopyN(io.Discard, r.Body, n)
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// isUpload, isCommit, isManifestPut and isPost pick out the requests of a
// blob upload and of a manifest write.
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/blobs/uploads/")
}

func isCommit(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")
}

func isPost(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/")
}

func isManifestPut(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
}

// sameBlob matches the requests that match does and that name the same
// blob (digest query) as the first of them.
func sameBlob(match func(*http.Request) bool) func(*http.Request) bool {
	first := ""
	return func(r *http.Request) bool {
		if !match(r) {
			return false
		}
		dg := r.URL.Query().Get("digest")
		if first == "" {
			first = dg
		}
		return dg == first
	}
}

func TestPushRetriesDroppedUploads(t *testing.T) {
	for _, tc := range []struct {
		name string
		// match picks the requests to drop; each is dropped at most
		// times times in all.
		match func(*http.Request) bool
		times int
		// read is how much of the body is read before hanging up (-1: all
		// of it, so the client sees EOF; a part leaves unread bytes, so
		// the kernel resets the connection).
		read int64
	}{
		{"patch-body-read", isUpload, 1, -1},
		{"patch-body-partly-read", isUpload, 1, 100},
		{"patch-body-unread", isUpload, 1, 0},
		{"patch-every-blob", isUpload, 3, -1},
		{"commit-same-blob-thrice", sameBlob(isCommit), 3, -1},
		{"post", isPost, 1, -1},
		{"commit-put", isCommit, 1, -1},
		{"manifest-put", isManifestPut, 1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			host, rec := newRegistry(t)
			var mu sync.Mutex
			dropped := 0
			rec.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				defer mu.Unlock()
				if dropped >= tc.times || !tc.match(r) {
					return false
				}
				dropped++
				hangUp(w, r, tc.read)
				return true
			}
			img := plainImage(t, 8, 2, types.OCIManifestSchema1)
			ref := host + "/test/dropup:v1"
			if _, err := Push(ctx, img, ref, testOptions()); err != nil {
				t.Fatalf("Push with %d dropped requests: %v", tc.times, err)
			}
			mu.Lock()
			got := dropped
			mu.Unlock()
			if got != tc.times {
				t.Fatalf("dropped %d requests, want %d", got, tc.times)
			}
			rec.intercept = nil
			pulled, _, err := Pull(ctx, ref, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(pulled); err != nil {
				t.Error(err)
			}
		})
	}
}

// dropOnce answers the first GET of every blob with half its body and then
// closes the connection.
func dropOnce(rec *recorder) {
	var mu sync.Mutex
	dropped := map[string]bool{}
	rec.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if dropped[r.URL.Path] {
			return false
		}
		dropped[r.URL.Path] = true
		full := httptest.NewRecorder()
		rec.next.ServeHTTP(full, r)
		body := full.Body.Bytes()
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n", len(body))
		buf.Write(body[:len(body)/2])
		buf.Flush()
		return true
	}
}

func TestPullResumesDroppedDownloads(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t)
	img := plainImage(t, 4, 2, types.OCIManifestSchema1)
	ref := host + "/test/drop:v1"
	if _, err := Push(ctx, img, ref, testOptions()); err != nil {
		t.Fatal(err)
	}
	dropOnce(rec)
	got, _, err := Pull(ctx, ref, testOptions())
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	readAll(t, got)
	if err := validate.Image(got); err != nil {
		t.Error(err)
	}
	if n := rec.count("GET", "/blobs/sha256:"); n < 6 {
		t.Errorf("saw %d blob GETs, want at least 6 (config and 2 layers, each dropped once)", n)
	}
}

func TestFailedPushNeverWritesManifest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		intercept func(w http.ResponseWriter, r *http.Request) bool
	}{
		{"server-errors", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/blobs/uploads/") {
				http.Error(w, "disk full", http.StatusInternalServerError)
				return true
			}
			return false
		}},
		{"every-upload-dropped", func(w http.ResponseWriter, r *http.Request) bool {
			if isUpload(r) {
				hangUp(w, r, -1)
				return true
			}
			return false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			host, rec := newRegistry(t)
			rec.intercept = tc.intercept
			img := plainImage(t, 5, 2, types.OCIManifestSchema1)
			opts := testOptions()
			opts.Retries = 2
			_, err := Push(ctx, img, host+"/test/broken:v1", opts)
			if err == nil {
				t.Fatal("Push succeeded, want an error")
			}
			if n := rec.count("PUT", "/manifests/"); n != 0 {
				t.Errorf("manifest PUT %d times after failed blob uploads, want 0", n)
			}
			// Each of the 3 blobs is tried at most Retries+1 times, in a
			// fresh upload session each time.
			if n := rec.count("POST", "/blobs/uploads/"); n < opts.Retries+1 || n > 3*(opts.Retries+1) {
				t.Errorf("%d uploads started, want between %d and %d", n, opts.Retries+1, 3*(opts.Retries+1))
			}
			rec.intercept = nil
			if _, _, err := Pull(ctx, host+"/test/broken:v1", testOptions()); !errors.Is(err, ErrManifestUnknown) {
				t.Errorf("Pull after failed push: %v, want ErrManifestUnknown", err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t)
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}()
	img := plainImage(t, 6, 1, types.OCIManifestSchema1)

	unauthorized := func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return true
	}
	for _, tc := range []struct {
		name      string
		intercept func(http.ResponseWriter, *http.Request) bool
		do        func() error
		want      error
		wantMsg   string
	}{
		{
			name:      "push-unauthorized",
			intercept: unauthorized,
			do: func() error {
				_, err := Push(ctx, img, host+"/test/a:v1", testOptions())
				return err
			},
			want:    ErrUnauthorized,
			wantMsg: fmt.Sprintf(`pushing to %s/test/a:v1: unauthorized: run "strata login %s" or check credentials`, host, host),
		},
		{
			name:      "pull-unauthorized",
			intercept: unauthorized,
			do: func() error {
				_, _, err := Pull(ctx, host+"/test/a:v1", testOptions())
				return err
			},
			want:    ErrUnauthorized,
			wantMsg: "unauthorized",
		},
		{
			name: "pull-unknown",
			do: func() error {
				_, _, err := Pull(ctx, host+"/test/nothing:v1", testOptions())
				return err
			},
			want:    ErrManifestUnknown,
			wantMsg: fmt.Sprintf("%s/test/nothing:v1: manifest unknown (no such image or tag)", host),
		},
		{
			name: "pull-refused",
			do: func() error {
				_, _, err := Pull(ctx, refused+"/test/a:v1", testOptions())
				return err
			},
			want:    ErrConnectionRefused,
			wantMsg: "connection refused by " + refused,
		},
		{
			name: "push-refused",
			do: func() error {
				_, err := Push(ctx, img, refused+"/test/a:v1", testOptions())
				return err
			},
			want:    ErrConnectionRefused,
			wantMsg: "connection refused by " + refused,
		},
		{
			name: "bad-reference",
			do: func() error {
				_, _, err := Pull(ctx, "UPPER/Case:v1", testOptions())
				return err
			},
			wantMsg: "parsing reference",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.intercept = tc.intercept
			defer func() { rec.intercept = nil }()
			err := tc.do()
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %q does not match %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantMsg)
			}
		})
	}
}

func TestInsecure(t *testing.T) {
	for _, tc := range []struct {
		reg      string
		insecure []string
		want     bool
	}{
		{"localhost:5000", nil, true},
		{"localhost", nil, true},
		{"127.0.0.1:5000", nil, true},
		{"[::1]:5000", nil, true},
		{"index.docker.io", nil, false},
		{"myreg.lan:5000", nil, false},
		{"myreg.lan:5000", []string{"myreg.lan:5000"}, true},
	} {
		t.Run(tc.reg, func(t *testing.T) {
			got := Options{Insecure: tc.insecure}.PlainHTTP(tc.reg)
			if got != tc.want {
				t.Errorf("insecure(%q) = %v, want %v", tc.reg, got, tc.want)
			}
		})
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
