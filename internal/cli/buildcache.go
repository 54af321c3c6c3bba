package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/strata-build/strata/internal/cacheio"
)

// parseSecrets reads --secret values (BuildKit's syntax):
// id=ID[,src=FILE|env=VAR][,type=file|env]. With neither src nor env, the
// secret is the environment variable ID when it is set, else the file ID.
func parseSecrets(list []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, v := range list {
		var id, src, env, typ string
		for _, field := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(field, "=")
			if !ok {
				return nil, fmt.Errorf("--secret %q: %q is not KEY=VALUE", v, field)
			}
			switch k {
			case "id":
				id = val
			case "src", "source":
				src = val
			case "env":
				env = val
			case "type":
				if val != "file" && val != "env" {
					return nil, fmt.Errorf("--secret %q: type=%s: use file or env", v, val)
				}
				typ = val
			default:
				return nil, fmt.Errorf("--secret %q: unknown key %q: use id, src or env", v, k)
			}
		}
		if id == "" {
			return nil, fmt.Errorf("--secret %q: id= is missing", v)
		}
		if typ == "env" && env == "" {
			env, src = src, ""
		}
		if src == "" && env == "" {
			if _, ok := os.LookupEnv(id); ok && typ != "file" {
				env = id
			} else {
				src = id
			}
		}
		if env != "" {
			val, ok := os.LookupEnv(env)
			if !ok {
				return nil, fmt.Errorf("--secret %q: the environment variable %s is not set", v, env)
			}
			out[id] = []byte(val)
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("--secret %q: %w", v, err)
		}
		out[id] = data
	}
	return out, nil
}

// parseCacheSpecs parses --cache-to (export) or --cache-from values.
func parseCacheSpecs(flag string, list []string, export bool) ([]cacheio.Spec, error) {
	var out []cacheio.Spec
	for _, v := range list {
		s, err := cacheio.ParseSpec(v, export)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		out = append(out, s)
	}
	return out, nil
}
