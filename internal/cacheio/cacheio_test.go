package cacheio

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/store"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in     string
		export bool
		want   Spec
		err    string
	}{
		{in: "type=registry,ref=127.0.0.1:5000/c:build,mode=max", export: true, want: Spec{Type: "registry", Ref: "127.0.0.1:5000/c:build", Mode: "max", Tag: "latest"}},
		{in: "127.0.0.1:5000/c", want: Spec{Type: "registry", Ref: "127.0.0.1:5000/c", Mode: "min", Tag: "latest"}},
		{in: "type=local,dest=/tmp/c", export: true, want: Spec{Type: "local", Dir: "/tmp/c", Mode: "min", Tag: "latest"}},
		{in: "type=local,src=/tmp/c,tag=v2", want: Spec{Type: "local", Dir: "/tmp/c", Mode: "min", Tag: "v2"}},
		{in: "type=local,src=/tmp/c", export: true, err: "src= is for --cache-from"},
		{in: "type=registry,ref=x,mode=all", export: true, err: "use min or max"},
		{in: "type=gha", err: "not supported"},
		{in: "type=registry", err: "needs ref="},
		{in: "type=local,dest=/x,bogus=1", export: true, err: "unknown key"},
		// BuildKit's options: accepted only with the value strata's format
		// has, refused otherwise (they were accepted and ignored).
		{in: "type=local,dest=/x,compression=gzip,oci-mediatypes=true,image-manifest=true,ignore-error=false", export: true, want: Spec{Type: "local", Dir: "/x", Mode: "min", Tag: "latest"}},
		{in: "type=local,src=/x,ignore-error=true", want: Spec{Type: "local", Dir: "/x", Mode: "min", Tag: "latest"}},
		{in: "type=local,dest=/x,compression=zstd", export: true, err: "gzip only"},
		{in: "type=local,dest=/x,oci-mediatypes=false", export: true, err: "always uses OCI media types"},
		{in: "type=local,dest=/x,image-manifest=false", export: true, err: "always an OCI image manifest"},
		{in: "type=local,dest=/x,ignore-error=true", export: true, err: "ignore-error=true is not supported"},
		{in: "type=local,dest=/x,ignore-error=maybe", export: true, err: "want true or false"},
		{in: "type=local,dest=/x,compression-level=3", export: true, err: "unknown key"},
		{in: "type=registry,ref=r/c,cache-mounts=true", export: true, want: Spec{Type: "registry", Ref: "r/c", Mode: "min", Tag: "latest", CacheMounts: true}},
		{in: "type=local,dest=/x,cache-mounts=false", export: true, want: Spec{Type: "local", Dir: "/x", Mode: "min", Tag: "latest"}},
		{in: "type=registry,ref=r/c,cache-mounts=yes", export: true, err: "cache-mounts=yes: use true or false"},
		{in: "type=registry,ref=r/c,cache-mounts=true", err: "cache-mounts= is for --cache-to"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSpec(tt.in, tt.export)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("spec (-got +want):\n%s", diff)
			}
		})
	}
}

// testTar returns a small plain tar.
func testTar(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	tw.Close()
	return buf.Bytes()
}

// seed makes a store with two records: one with a layer, one without.
func seed(t *testing.T) (*store.Store, []store.CacheRecord) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := st.WriteBlob(bytes.NewReader(testTar(t, "hello.txt", strings.Repeat("hello\n", 1000))), nil)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	recs := []store.CacheRecord{
		{Key: strings.Repeat("a", 64), Created: created, Blobs: []v1.Hash{h}, Chains: []v1.Hash{h}, Data: []byte(`{"config":{}}`)},
		{Key: strings.Repeat("b", 64), Created: created, Data: []byte(`{"config":{"os":"linux"}}`)},
	}
	for _, r := range recs {
		if err := st.PutCache(r); err != nil {
			t.Fatal(err)
		}
	}
	return st, recs
}

func TestRoundTrip(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	specs := []struct{ to, from string }{
		{"type=registry,ref=" + host + "/cache:t", "type=registry,ref=" + host + "/cache:t"},
		{"type=local,dest=" + filepath.Join(t.TempDir(), "dir"), ""},
	}
	for _, sp := range specs {
		t.Run(strings.SplitN(sp.to, ",", 2)[0], func(t *testing.T) {
			ctx := context.Background()
			src, recs := seed(t)
			to, err := ParseSpec(sp.to, true)
			if err != nil {
				t.Fatal(err)
			}
			keys := []string{recs[0].Key, recs[1].Key, recs[0].Key, strings.Repeat("c", 64)} // a repeat, and a key with no record
			stats, err := Export(ctx, src, keys, to, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if stats.Records != 2 || stats.Layers != 1 || stats.Bytes <= 0 || stats.Bytes >= 6000 {
				t.Errorf("export stats %+v, want 2 records and 1 gzip layer smaller than the 6000-byte tar", stats)
			}
			fromStr := sp.from
			if fromStr == "" {
				fromStr = "type=local,src=" + to.Dir
			}
			from, err := ParseSpec(fromStr, false)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			im, err := Open(ctx, dst, from, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if im.Len() != 2 {
				t.Errorf("the cache holds %d records, want 2", im.Len())
			}
			if got := im.Stats(); got.Layers != 0 {
				t.Errorf("Open downloaded %d layers, want none (lazy)", got.Layers)
			}
			if ok, err := im.Fetch(ctx, strings.Repeat("c", 64)); ok || err != nil {
				t.Errorf("Fetch of an unknown key = %v, %v; want a miss", ok, err)
			}
			for _, want := range recs {
				ok, err := im.Fetch(ctx, want.Key)
				if err != nil || !ok {
					t.Fatalf("Fetch(%.8s) = %v, %v", want.Key, ok, err)
				}
				got, ok, err := dst.GetCache(want.Key)
				if err != nil || !ok {
					t.Fatalf("GetCache after Fetch: %v, %v", ok, err)
				}
				if diff := cmp.Diff(string(got.Data), string(want.Data)); diff != "" {
					t.Errorf("data (-got +want):\n%s", diff)
				}
				if diff := cmp.Diff(got.Blobs, want.Blobs); diff != "" {
					t.Errorf("blobs (-got +want):\n%s", diff)
				}
				if !got.Created.Equal(want.Created) {
					t.Errorf("created %v, want %v", got.Created, want.Created)
				}
			}
			rc, err := dst.OpenBlob(recs[0].Blobs[0])
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, testTar(t, "hello.txt", strings.Repeat("hello\n", 1000))) {
				t.Error("the imported blob differs from the exported one")
			}
			if got := im.Stats(); got.Layers != 1 || got.Records != 2 {
				t.Errorf("import stats %+v, want 1 layer and 2 records", got)
			}
		})
	}
}

// TestOpenRefusesOtherBuilder: a cache written by another strata version is
// refused, never trusted; one of the same version is read.
func TestOpenRefusesOtherBuilder(t *testing.T) {
	ctx := context.Background()
	src, recs := seed(t)
	to, err := ParseSpec("type=local,dest="+filepath.Join(t.TempDir(), "dir"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Export(ctx, src, []string{recs[0].Key}, to, Options{Version: "1.0"}); err != nil {
		t.Fatal(err)
	}
	from, err := ParseSpec("type=local,src="+to.Dir, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		version string
		wantErr bool
	}{{"1.0", false}, {"1.1", true}, {"", true}}
	for _, tt := range tests {
		t.Run("version "+tt.version, func(t *testing.T) {
			dst, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(ctx, dst, from, Options{Version: tt.version})
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("Open by version %q: error %v, want an error: %v", tt.version, err, tt.wantErr)
			}
			if tt.wantErr && (!errors.Is(err, ErrOtherBuilder) || !strings.Contains(err.Error(), "written by strata 1.0 linux/")) {
				t.Errorf("error %q does not say who wrote the cache", err)
			}
		})
	}
}

func TestOpenEmptyDir(t *testing.T) {
	ctx := context.Background()
	st, _ := seed(t)
	from, _ := ParseSpec("type=local,src="+t.TempDir(), false)
	if _, err := Open(ctx, st, from, Options{}); err == nil {
		t.Fatal("Open of an empty directory succeeded")
	}
}
