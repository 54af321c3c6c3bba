package cli

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-build/strata/internal/executor"
)

// runMounts turns docker run's -v, --mount and --tmpfs values into mounts.
func runMounts(volumes, mounts, tmpfs []string) ([]executor.Mount, error) {
	var out []executor.Mount
	for _, v := range volumes {
		m, err := parseVolume(v)
		if err != nil {
			return nil, fmt.Errorf("-v %q: %w", v, err)
		}
		out = append(out, m)
	}
	for _, v := range mounts {
		m, err := parseMount(v)
		if err != nil {
			return nil, fmt.Errorf("--mount %q: %w", v, err)
		}
		out = append(out, m)
	}
	for _, v := range tmpfs {
		target, opts, _ := strings.Cut(v, ":")
		if !path.IsAbs(target) {
			return nil, fmt.Errorf("--tmpfs %q: the target must be an absolute path in the container", v)
		}
		m := executor.Mount{Type: "tmpfs", Target: path.Clean(target)}
		if opts != "" {
			m.Options = strings.Split(opts, ",")
		}
		out = append(out, m)
	}
	return out, nil
}

// parseVolume reads HOST:CONTAINER[:ro|rw]; a missing host directory is
// made, as docker makes it.
func parseVolume(v string) (executor.Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return executor.Mount{}, fmt.Errorf("want HOST-PATH:CONTAINER-PATH[:ro]")
	}
	src, dst := parts[0], parts[1]
	if !filepath.IsAbs(src) {
		return executor.Mount{}, fmt.Errorf("named volumes are not supported (strata has no volume store): give an absolute host path")
	}
	if !path.IsAbs(dst) {
		return executor.Mount{}, fmt.Errorf("the container path %q must be absolute", dst)
	}
	m := executor.Mount{Type: "bind", Source: filepath.Clean(src), Target: path.Clean(dst)}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw":
			default:
				return executor.Mount{}, fmt.Errorf("option %q is not supported: use ro or rw", o)
			}
		}
	}
	if _, err := os.Stat(m.Source); os.IsNotExist(err) {
		if err := os.MkdirAll(m.Source, 0o755); err != nil {
			return executor.Mount{}, fmt.Errorf("creating the host directory: %w", err)
		}
	}
	return m, nil
}

// parseMount reads docker's --mount: type=bind with source, target and
// readonly, or type=tmpfs with target, tmpfs-size and tmpfs-mode.
func parseMount(v string) (executor.Mount, error) {
	m := executor.Mount{Type: "bind"}
	for _, field := range strings.Split(v, ",") {
		k, val, hasVal := strings.Cut(field, "=")
		switch k {
		case "type":
			if val != "bind" && val != "tmpfs" {
				return m, fmt.Errorf("type=%s is not supported: use bind or tmpfs (strata has no volume store)", val)
			}
			m.Type = val
		case "source", "src":
			m.Source = val
		case "target", "destination", "dst":
			m.Target = val
		case "readonly", "ro":
			ro := true
			if hasVal {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return m, fmt.Errorf("%s=%q: want true or false", k, val)
				}
				ro = b
			}
			m.ReadOnly = ro
		case "tmpfs-size":
			m.Options = append(m.Options, "size="+val)
		case "tmpfs-mode":
			m.Options = append(m.Options, "mode="+val)
		default:
			return m, fmt.Errorf("key %q is not supported: use type, source, target, readonly, tmpfs-size or tmpfs-mode", k)
		}
	}
	if !path.IsAbs(m.Target) {
		return m, fmt.Errorf("target= must be an absolute path in the container")
	}
	m.Target = path.Clean(m.Target)
	switch {
	case m.Type == "tmpfs" && m.Source != "":
		return m, fmt.Errorf("a tmpfs mount has no source")
	case m.Type == "bind" && !filepath.IsAbs(m.Source):
		return m, fmt.Errorf("source= must be an absolute host path")
	case m.Type == "bind":
		if _, err := os.Stat(m.Source); err != nil {
			return m, fmt.Errorf("bind source path does not exist: %s", m.Source)
		}
	}
	return m, nil
}
