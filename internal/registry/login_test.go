package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// basicAuthRegistry is an in-memory registry that wants user:pass.
func basicAuthRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func readAuths(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cf struct {
		Auths map[string]map[string]string `json:"auths"`
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	return cf.Auths
}

func TestLoginLogoutConfigFile(t *testing.T) {
	ctx := context.Background()
	host := basicAuthRegistry(t, "ci", "pw")
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)

	_, err := Login(ctx, LoginOptions{Server: host, Username: "ci", Password: "wrong"})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Login with a wrong password: got %v, want ErrUnauthorized", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused login wrote config.json: %v", err)
	}
	path, err := Login(ctx, LoginOptions{Server: host, Username: "ci", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := path, filepath.Join(dir, "config.json"); got != want {
		t.Errorf("config file %s, want %s ($DOCKER_CONFIG)", got, want)
	}
	if got, want := readAuths(t, dir)[host]["auth"], base64.StdEncoding.EncodeToString([]byte("ci:pw")); got != want {
		t.Errorf("auths[%s].auth = %q, want %q", host, got, want)
	}
	// What strata's pulls and pushes use reads them.
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := a.Authorization(); err != nil || cfg.Username != "ci" || cfg.Password != "pw" {
		t.Errorf("authn.DefaultKeychain after login: %+v, %v", cfg, err)
	}
	for _, want := range []bool{true, false} {
		had, err := Logout(LoginOptions{Server: host})
		if err != nil || had != want {
			t.Fatalf("Logout = %v, %v; want %v", had, err, want)
		}
	}
	if _, ok := readAuths(t, dir)[host]; ok {
		t.Errorf("the credentials of %s are still in config.json after logout", host)
	}
}

// TestLoginCredsStore: with credsStore in config.json, the credentials go
// to docker-credential-NAME on PATH (a test helper keeping them in a
// file), not into config.json.
func TestLoginCredsStore(t *testing.T) {
	ctx := context.Background()
	host := basicAuthRegistry(t, "ci", "pw")
	dir, bin := t.TempDir(), t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	secrets := filepath.Join(t.TempDir(), "secrets")
	helper := `#!/bin/sh
case "$1" in
store) cat > "` + secrets + `" ;;
get) read -r server; if [ -s "` + secrets + `" ]; then cat "` + secrets + `"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) : > "` + secrets + `" ;;
list) echo "{}" ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-strata-test"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credsStore": "strata-test"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Login(ctx, LoginOptions{Server: host, Username: "ci", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(secrets)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ ServerURL, Username, Secret string }
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("the helper got %q: %v", b, err)
	}
	if got.ServerURL != host || got.Username != "ci" || got.Secret != "pw" {
		t.Errorf("the helper stored %+v, want %s ci pw", got, host)
	}
	if a := readAuths(t, dir)[host]["auth"]; a != "" {
		t.Errorf("config.json holds the credentials (%q) beside the helper", a)
	}
	if had, err := Logout(LoginOptions{Server: host}); err != nil || !had {
		t.Fatalf("Logout = %v, %v; want true", had, err)
	}
	if b, _ := os.ReadFile(secrets); len(b) != 0 {
		t.Errorf("the helper still holds %q after logout", b)
	}
}
