package registry

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]HostConfig
		wantErr string
	}{
		{"empty", `{}`, map[string]HostConfig{}, ""},
		{"docker hub is index.docker.io", `{"registries": {"docker.io": {"mirrors": ["m.lan:5000"]}}}`,
			map[string]HostConfig{"index.docker.io": {Mirrors: []string{"m.lan:5000"}}}, ""},
		{"insecure and ca", `{"registries": {"r.lan:5000": {"insecure": true, "ca": ["/etc/ca.pem"]}}}`,
			map[string]HostConfig{"r.lan:5000": {Insecure: true, CA: []string{"/etc/ca.pem"}}}, ""},
		{"unknown key", `{"registries": {"r.lan": {"mirror": ["m.lan"]}}}`, nil, `unknown field "mirror"`},
		{"mirror with scheme", `{"registries": {"r.lan": {"mirrors": ["https://m.lan"]}}}`, nil, `mirror "https://m.lan": want a registry host[:port]`},
		{"relative ca", `{"registries": {"r.lan": {"ca": ["ca.pem"]}}}`, nil, `ca "ca.pem": want an absolute path`},
		{"given twice", `{"registries": {"docker.io": {}, "index.docker.io": {}}}`, nil, "given twice"},
		{"not json", `registries: {}`, nil, "parsing JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got.Registries, tt.want); diff != "" {
				t.Errorf("registries (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv(ConfigEnv, "")
	c, err := LoadConfig()
	if err != nil || len(c.Registries) != 0 {
		t.Fatalf("without a file: got %+v, %v; want no settings", c, err)
	}
	def := filepath.Join(dir, "strata", "registries.json")
	if err := os.MkdirAll(filepath.Dir(def), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(def, []byte(`{"registries": {"a.lan": {"insecure": true}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err = LoadConfig(); err != nil || !c.host("a.lan").Insecure {
		t.Fatalf("default file: got %+v, %v; want a.lan insecure", c, err)
	}
	t.Setenv(ConfigEnv, filepath.Join(dir, "missing.json"))
	if _, err := LoadConfig(); err == nil {
		t.Fatalf("a missing $%s file: no error", ConfigEnv)
	}
}

// TestPullMirror: an image is pulled from the first mirror that has it;
// a mirror that fails is passed over for the registry.
func TestPullMirror(t *testing.T) {
	ctx := context.Background()
	upstream, upRec := newRegistry(t)
	mirror, mirRec := newRegistry(t)
	img := plainImage(t, 7, 2, types.OCIManifestSchema1)
	opts := testOptions()
	opts.TempDir = t.TempDir()
	want, err := Push(ctx, img, mirror+"/team/app:1", opts)
	if err != nil {
		t.Fatal(err)
	}

	opts.Config = &Config{Registries: map[string]HostConfig{upstream: {Mirrors: []string{"127.0.0.1:9", mirror}}}}
	got, ref, err := Pull(ctx, upstream+"/team/app:1", opts)
	if err != nil {
		t.Fatalf("pull through the mirror: %v", err)
	}
	readAll(t, got)
	if ref.String() != upstream+"/team/app@"+want.String() {
		t.Errorf("got reference %s, want it in the pulled repository with digest %s", ref, want)
	}
	if n := upRec.count("GET", "/team/app/"); n != 0 {
		t.Errorf("the registry was asked %d times; want the mirror only", n)
	}
	if n := mirRec.count("GET", "/team/app/manifests/1"); n == 0 {
		t.Errorf("the mirror was not asked for the manifest")
	}

	// Only the registry has this one: the mirror's miss falls through.
	other := plainImage(t, 8, 1, types.OCIManifestSchema1)
	if _, err := Push(ctx, other, upstream+"/team/other:1", Options{TempDir: t.TempDir(), RetryDelay: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Pull(ctx, upstream+"/team/other:1", opts); err != nil {
		t.Fatalf("pull of an image the mirror lacks: %v", err)
	}
	_, _, err = Pull(ctx, upstream+"/team/none:1", opts)
	if !errors.Is(err, ErrManifestUnknown) || !strings.Contains(err.Error(), "mirrors failed") {
		t.Errorf("pull of an image nobody has: got %v, want manifest unknown naming the mirrors", err)
	}
}

// TestConfigCA: a TLS registry whose certificate is signed by no system CA
// is reached only with its CA file in the config.
func TestConfigCA(t *testing.T) {
	ctx := context.Background()
	s := httptest.NewUnstartedServer(ggcrregistry.New(ggcrregistry.Logger(nilLogger())))
	s.Config.ErrorLog = nilLogger() // the refused handshakes
	s.StartTLS()
	t.Cleanup(s.Close)
	host := strings.TrimPrefix(s.URL, "https://")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	img := plainImage(t, 9, 1, types.OCIManifestSchema1)
	tests := []struct {
		name   string
		config *Config
		wantOK bool
	}{
		{"no config", nil, false},
		{"ca", &Config{Registries: map[string]HostConfig{host: {CA: []string{ca}}}}, true},
		{"insecure", &Config{Registries: map[string]HostConfig{host: {Insecure: true}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.Retries = -1
			opts.TempDir = t.TempDir()
			opts.Config = tt.config
			_, err := Push(ctx, img, host+"/ca/img:1", opts)
			if got := err == nil; got != tt.wantOK {
				t.Fatalf("push: error %v, want success %v", err, tt.wantOK)
			}
			if !tt.wantOK {
				return
			}
			if _, _, err := Pull(ctx, host+"/ca/img:1", opts); err != nil {
				t.Errorf("pull: %v", err)
			}
		})
	}
}
