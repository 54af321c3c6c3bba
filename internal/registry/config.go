package registry

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ConfigEnv names the environment variable that points at the registries
// file; without it the file is DefaultConfigPath.
const ConfigEnv = "STRATA_CONFIG"

// Config is the registries file: per registry, mirrors to pull from first,
// whether it is insecure, and the CAs its TLS certificate is checked with.
//
//	{"registries": {
//	  "docker.io": {"mirrors": ["mirror.lan:5000"]},
//	  "registry.lan:5000": {"insecure": true},
//	  "registry.corp": {"ca": ["/etc/strata/corp-ca.pem"]}
//	}}
type Config struct {
	// Registries are the settings by registry host[:port] ("docker.io" is
	// Docker Hub).
	Registries map[string]HostConfig `json:"registries"`
}

// HostConfig is the settings of one registry.
type HostConfig struct {
	// Mirrors are registries (host[:port]) asked, in order, for the images
	// pulled from this one, before it; a mirror that fails is passed over.
	// Pushes never go to a mirror.
	Mirrors []string `json:"mirrors,omitempty"`
	// Insecure lets the registry be reached over plain http, and over https
	// without checking its certificate.
	Insecure bool `json:"insecure,omitempty"`
	// CA are PEM files of the certificate authorities the registry's
	// certificate is checked with, besides the system's.
	CA []string `json:"ca,omitempty"`
}

// DefaultConfigPath returns ~/.config/strata/registries.json, or
// $XDG_CONFIG_HOME/strata/registries.json when XDG_CONFIG_HOME is set.
func DefaultConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the registries file: %w", err)
	}
	return filepath.Join(dir, "strata", "registries.json"), nil
}

// LoadConfig reads the registries file: $STRATA_CONFIG when set (it must
// exist), else DefaultConfigPath (which may be missing: no settings).
func LoadConfig() (*Config, error) {
	path, must := os.Getenv(ConfigEnv), true
	if path == "" {
		p, err := DefaultConfigPath()
		if err != nil {
			return &Config{}, nil
		}
		path, must = p, false
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !must {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the registries file: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("reading the registries file %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses a registries file. Unknown keys are refused, so that a
// misspelt setting is not silently ignored.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parsing JSON: %w", err)
	}
	out := &Config{Registries: map[string]HostConfig{}}
	for host, hc := range c.Registries {
		reg, err := normalHost(host)
		if err != nil {
			return nil, fmt.Errorf("registry %q: %w", host, err)
		}
		for _, m := range hc.Mirrors {
			if _, err := normalHost(m); err != nil {
				return nil, fmt.Errorf("registry %q: mirror %q: %w", host, m, err)
			}
		}
		for _, ca := range hc.CA {
			if !filepath.IsAbs(ca) {
				return nil, fmt.Errorf("registry %q: ca %q: want an absolute path", host, ca)
			}
		}
		if _, dup := out.Registries[reg]; dup {
			return nil, fmt.Errorf("registry %q: given twice", host)
		}
		out.Registries[reg] = hc
	}
	return out, nil
}

// normalHost checks that s is a registry host[:port] and returns it as
// references name it ("docker.io" is "index.docker.io").
func normalHost(s string) (string, error) {
	if s == "" || strings.ContainsAny(s, "/ ") {
		return "", errors.New("want a registry host[:port], without scheme or path")
	}
	r, err := name.NewRegistry(s)
	if err != nil {
		return "", err
	}
	return r.RegistryStr(), nil
}

// host returns the settings of reg (host[:port]).
func (c *Config) host(reg string) HostConfig {
	if c == nil {
		return HostConfig{}
	}
	return c.Registries[reg]
}

// transport returns next, or for registries with a CA or insecure set, a
// transport that checks their certificates accordingly.
func (c *Config) transport(next http.RoundTripper) (http.RoundTripper, error) {
	if c == nil {
		return next, nil
	}
	base, ok := next.(*http.Transport)
	if !ok {
		return next, nil
	}
	hosts := map[string]http.RoundTripper{}
	for reg, hc := range c.Registries {
		if len(hc.CA) == 0 && !hc.Insecure {
			continue
		}
		t := base.Clone()
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.TLSClientConfig != nil {
			tc = t.TLSClientConfig.Clone()
		}
		tc.InsecureSkipVerify = hc.Insecure
		if len(hc.CA) > 0 {
			pool, err := certPool(hc.CA)
			if err != nil {
				return nil, fmt.Errorf("registry %s: %w", reg, err)
			}
			tc.RootCAs = pool
		}
		t.TLSClientConfig = tc
		hosts[reg] = t
	}
	if len(hosts) == 0 {
		return next, nil
	}
	return &hostTransport{hosts: hosts, next: next}, nil
}

// certPool returns the system's CAs with those of files added.
func certPool(files []string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", f)
		}
	}
	return pool, nil
}

// hostTransport sends the requests of each configured registry through its
// own transport, and the others through next.
type hostTransport struct {
	hosts map[string]http.RoundTripper
	next  http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if rt, ok := t.hosts[req.URL.Host]; ok {
		return rt.RoundTrip(req)
	}
	return t.next.RoundTrip(req)
}
