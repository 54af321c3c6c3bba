package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The comparable part of an image's configuration, one "key: <compact JSON>"
// line per field in a fixed order: the Go port of the shared harness's
// imgconfig.py (section "strict").

// strictConfigKeys are the Config fields compared, in output order.
var strictConfigKeys = []string{"Env", "Cmd", "Entrypoint", "Shell", "WorkingDir", "User",
	"ExposedPorts", "Volumes", "Labels", "StopSignal", "Healthcheck", "OnBuild"}

// isEmptyJSON reports whether v is null, "", [] or {}: such a field counts as
// absent.
func isEmptyJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// isFalsyNumber reports whether v is a zero number (or null), as Python's
// "not v" sees a duration or retry count.
func isFalsyNumber(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case bool:
		return !x
	}
	return isEmptyJSON(v)
}

// normHealthcheck drops zero durations and retries and empty fields.
func normHealthcheck(v any) any {
	h, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, x := range h {
		switch k {
		case "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries":
			if isFalsyNumber(x) {
				continue
			}
		}
		if isEmptyJSON(x) {
			continue
		}
		out[k] = x
	}
	return out
}

// configLines returns the comparable config lines of one image, from
// `docker image inspect`-shaped JSON (a list of one object, as docker and
// strata print it) or an OCI/docker image config blob.
func configLines(data []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding the image JSON: %w", err)
	}
	if list, ok := doc.([]any); ok {
		if len(list) != 1 {
			return nil, fmt.Errorf("expected exactly one image, got %d", len(list))
		}
		doc = list[0]
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("unexpected JSON shape: not an object")
	}
	cfgKey, rootfsKey, layersKey := "Config", "RootFS", "Layers"
	if _, docker := top["Config"]; !docker {
		if _, d2 := top["RootFS"]; !d2 {
			if _, oci := top["config"]; !oci {
				if _, o2 := top["rootfs"]; !o2 {
					return nil, errors.New("neither docker inspect JSON nor an image config")
				}
			}
			cfgKey, rootfsKey, layersKey = "config", "rootfs", "diff_ids"
		}
	}
	cfg, _ := top[cfgKey].(map[string]any)
	var lines []string
	for _, k := range strictConfigKeys {
		v := cfg[k]
		if k == "Healthcheck" {
			v = normHealthcheck(v)
		}
		if isEmptyJSON(v) {
			continue
		}
		lines = append(lines, k+": "+pyCompact(v))
	}
	for _, names := range [][2]string{{"Author", "author"}, {"Os", "os"}, {"Architecture", "architecture"}} {
		v, ok := top[names[0]]
		if !ok {
			v = top[names[1]]
		}
		if !isEmptyJSON(v) {
			lines = append(lines, names[0]+": "+pyCompact(v))
		}
	}
	rootfs, _ := top[rootfsKey].(map[string]any)
	layers, _ := rootfs[layersKey].([]any)
	lines = append(lines, fmt.Sprintf("layers: %d", len(layers)))
	return lines, nil
}

// imageID returns the Id of `docker image inspect`-shaped JSON.
func imageID(data []byte) (string, error) {
	var list []struct{ Id string }
	if err := json.Unmarshal(data, &list); err != nil {
		return "", fmt.Errorf("decoding the inspect JSON: %w", err)
	}
	if len(list) != 1 || list[0].Id == "" {
		return "", fmt.Errorf("expected one image with an Id, got %s", strings.TrimSpace(string(data)))
	}
	return list[0].Id, nil
}
