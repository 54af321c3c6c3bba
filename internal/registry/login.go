package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// LoginOptions are a registry login, as docker login's.
type LoginOptions struct {
	// Server is the registry (host[:port]); empty means Docker Hub.
	Server string
	// Username and Password are the credentials.
	Username, Password string
	// ConfigDir is the directory of config.json; empty means $DOCKER_CONFIG,
	// else ~/.docker, as docker and authn.DefaultKeychain read it.
	ConfigDir string
	// Registry configures the client that checks the credentials (plain
	// http for loopback and Insecure registries).
	Registry Options
}

// dockerHubKey is the name docker's config.json gives Docker Hub.
const dockerHubKey = "https://index.docker.io/v1/"

// authKey returns the config.json key of server, and the registry.
func (o Options) authKey(server string) (string, name.Registry, error) {
	if server == "" {
		server = name.DefaultRegistry
	}
	var nopts []name.Option
	if o.PlainHTTP(server) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(server, nopts...)
	if err != nil {
		return "", name.Registry{}, fmt.Errorf("server %q: %w", server, err)
	}
	if reg.RegistryStr() == name.DefaultRegistry {
		return dockerHubKey, reg, nil
	}
	return reg.RegistryStr(), reg, nil
}

// Login checks the credentials against the registry (GET /v2/ with them,
// after the token exchange the registry asks for) and stores them as docker
// login does: in the credential helper config.json names for the registry
// (credHelpers, else credsStore, run as docker-credential-NAME from PATH),
// else base64 in config.json's auths. It returns the config file's path.
func Login(ctx context.Context, opts LoginOptions) (string, error) {
	key, reg, err := opts.Registry.authKey(opts.Server)
	if err != nil {
		return "", err
	}
	if opts.Username == "" || opts.Password == "" {
		return "", errors.New("login needs a username and a password")
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: opts.Username, Password: opts.Password})
	base, err := opts.Registry.Config.transport(remote.DefaultTransport)
	if err != nil {
		return "", fmt.Errorf("logging in to %s: %w", reg.RegistryStr(), err)
	}
	tr, err := transport.NewWithContext(ctx, reg, auth, base, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return "", fmt.Errorf("logging in to %s: %w", reg.RegistryStr(), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return "", fmt.Errorf("logging in to %s: %w", reg.RegistryStr(), err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", fmt.Errorf("logging in to %s: %w", reg.RegistryStr(), err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fmt.Errorf("logging in to %s: %w: %s (check the username and password)", reg.RegistryStr(), ErrUnauthorized, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("logging in to %s: GET /v2/: %s", reg.RegistryStr(), resp.Status)
	}
	cf, err := loadConfig(opts.ConfigDir)
	if err != nil {
		return "", err
	}
	ac := types.AuthConfig{Username: opts.Username, Password: opts.Password, ServerAddress: key}
	if cf.CredentialHelpers[key] == "" && cf.CredentialsStore == "" {
		// In config.json (base64), as docker's file store does, without
		// the warning it prints on stderr itself: the library is silent.
		cf.AuthConfigs[key] = ac
		if err := cf.Save(); err != nil {
			return "", fmt.Errorf("storing the credentials of %s: %w", key, err)
		}
		return cf.Filename, nil
	}
	if err := cf.GetCredentialsStore(key).Store(ac); err != nil {
		return "", fmt.Errorf("storing the credentials of %s: %w", key, err)
	}
	return cf.Filename, nil
}

// Logout removes the credentials of server from where docker login put
// them. It reports whether there were any.
func Logout(opts LoginOptions) (bool, error) {
	key, _, err := opts.Registry.authKey(opts.Server)
	if err != nil {
		return false, err
	}
	cf, err := loadConfig(opts.ConfigDir)
	if err != nil {
		return false, err
	}
	store := cf.GetCredentialsStore(key)
	ac, err := store.Get(key)
	if err != nil {
		return false, fmt.Errorf("reading the credentials of %s: %w", key, err)
	}
	if ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" {
		return false, nil
	}
	if err := store.Erase(key); err != nil {
		return false, fmt.Errorf("removing the credentials of %s: %w", key, err)
	}
	return true, nil
}

// loadConfig reads config.json from dir, or else from $DOCKER_CONFIG or
// ~/.docker (read now: docker's config.Dir keeps the first answer).
func loadConfig(dir string) (*configfile.ConfigFile, error) {
	if dir == "" {
		dir = os.Getenv(config.EnvOverrideConfigDir)
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("finding the docker config: %w (set DOCKER_CONFIG)", err)
		}
		dir = filepath.Join(home, ".docker")
	}
	cf, err := config.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the docker config in %s: %w", dir, err)
	}
	return cf, nil
}
