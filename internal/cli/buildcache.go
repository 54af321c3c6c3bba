package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/strata-build/strata/internal/build"
	"github.com/strata-build/strata/internal/cacheio"
	"github.com/strata-build/strata/internal/progress"
	"github.com/strata-build/strata/internal/store"
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

// openCaches opens the --cache-from caches. One that cannot be read is left
// out with a warning, as BuildKit does: the build runs without it.
func openCaches(ctx context.Context, st *store.Store, specs []cacheio.Spec, sink progress.Sink) []*cacheio.Importer {
	var out []*cacheio.Importer
	for _, s := range specs {
		im, err := cacheio.Open(ctx, st, s, cacheio.Options{})
		if err != nil {
			sink.Event(progress.Event{Status: progress.Info, Line: fmt.Sprintf("[Warning] --cache-from: %v", err), Time: time.Now()})
			continue
		}
		sink.Event(progress.Event{Status: progress.Info, Line: fmt.Sprintf("importing cache from %s: %d records", s, im.Len()), Time: time.Now()})
		out = append(out, im)
	}
	return out
}

// reportImports tells what the --cache-from caches gave the build.
func reportImports(importers []*cacheio.Importer, sink progress.Sink) {
	for _, im := range importers {
		st := im.Stats()
		sink.Event(progress.Event{Status: progress.Info, Time: time.Now(),
			Line: fmt.Sprintf("imported from %s: %d records, %d layers, %d bytes downloaded", im.Spec(), st.Records, st.Layers, st.Bytes)})
	}
}

// exportCaches writes the build's cache to each --cache-to destination.
func exportCaches(ctx context.Context, st *store.Store, res *build.Result, specs []cacheio.Spec, sink progress.Sink) error {
	for _, s := range specs {
		keys := res.TargetCacheKeys
		if s.Mode == "max" {
			keys = res.CacheKeys
		}
		start := time.Now()
		stats, err := cacheio.Export(ctx, st, keys, s, cacheio.Options{})
		if err != nil {
			return err
		}
		sink.Event(progress.Event{Status: progress.Info, Time: time.Now(),
			Line: fmt.Sprintf("exporting cache to %s done: %d records, %d layers, %d bytes, %s (%.1fs)", s, stats.Records, stats.Layers, stats.Bytes, stats.Digest, time.Since(start).Seconds())})
	}
	return nil
}
