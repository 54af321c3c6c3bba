package cacheio

import (
	"fmt"
	"strconv"
	"strings"
)

// Spec is one --cache-to or --cache-from value, in BuildKit's syntax:
// type=registry,ref=REF[,mode=min|max] or type=local,dest=DIR (export),
// type=local,src=DIR (import).
type Spec struct {
	// Type is "registry" or "local".
	Type string
	// Ref is the registry reference (type=registry).
	Ref string
	// Dir is the OCI image layout directory (type=local: dest= or src=).
	Dir string
	// Tag names the cache inside the layout directory (default "latest").
	Tag string
	// Mode is "min" (the target stage's steps, the default) or "max" (every
	// stage's steps); export only.
	Mode string
	// CacheMounts, on export, adds the RUN --mount=type=cache directories
	// (cache-mounts=true); an import restores those a cache has.
	CacheMounts bool
}

// ParseSpec parses a --cache-to (export true) or --cache-from value. A value
// with no "=" is a registry reference, as in docker buildx.
func ParseSpec(value string, export bool) (Spec, error) {
	s := Spec{Mode: "min", Tag: "latest"}
	if !strings.Contains(value, "=") {
		value = "type=registry,ref=" + value
	}
	for _, field := range strings.Split(value, ",") {
		k, v, ok := strings.Cut(field, "=")
		if !ok || v == "" {
			return Spec{}, fmt.Errorf("cache spec %q: %q is not KEY=VALUE", value, field)
		}
		switch k {
		case "type":
			s.Type = v
		case "ref":
			s.Ref = v
		case "dest":
			if !export {
				return Spec{}, fmt.Errorf("cache spec %q: dest= is for --cache-to; --cache-from reads src=", value)
			}
			s.Dir = v
		case "src":
			if export {
				return Spec{}, fmt.Errorf("cache spec %q: src= is for --cache-from; --cache-to writes dest=", value)
			}
			s.Dir = v
		case "tag":
			s.Tag = v
		case "mode":
			if v != "min" && v != "max" {
				return Spec{}, fmt.Errorf("cache spec %q: mode=%s: use min or max", value, v)
			}
			s.Mode = v
		case "cache-mounts":
			if !export {
				return Spec{}, fmt.Errorf("cache spec %q: cache-mounts= is for --cache-to; --cache-from restores the cache mounts a cache has", value)
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Spec{}, fmt.Errorf("cache spec %q: cache-mounts=%s: use true or false", value, v)
			}
			s.CacheMounts = b
		case "compression", "oci-mediatypes", "image-manifest", "ignore-error":
			if err := checkFixed(k, v, export); err != nil {
				return Spec{}, fmt.Errorf("cache spec %q: %w", value, err)
			}
		default:
			return Spec{}, fmt.Errorf("cache spec %q: unknown key %q", value, k)
		}
	}
	switch s.Type {
	case "registry":
		if s.Ref == "" {
			return Spec{}, fmt.Errorf("cache spec %q: type=registry needs ref=", value)
		}
	case "local":
		if s.Dir == "" {
			if export {
				return Spec{}, fmt.Errorf("cache spec %q: type=local needs dest=DIR", value)
			}
			return Spec{}, fmt.Errorf("cache spec %q: type=local needs src=DIR", value)
		}
	case "":
		return Spec{}, fmt.Errorf("cache spec %q: give type=registry or type=local", value)
	default:
		return Spec{}, fmt.Errorf("cache spec %q: type=%s is not supported: use registry or local", value, s.Type)
	}
	return s, nil
}

// String formats s for messages.
func (s Spec) String() string {
	if s.Type == "registry" {
		return "registry " + s.Ref
	}
	return "directory " + s.Dir
}

// checkFixed accepts a BuildKit cache option whose value is what strata's
// cache format always does (gzip layers, OCI media types, an OCI image
// manifest; an import that fails is a warning, never an error), and
// refuses any other value.
func checkFixed(key, value string, export bool) error {
	if key == "compression" {
		if value != "gzip" {
			return fmt.Errorf("compression=%s: strata's cache layers are gzip only: remove the key or set compression=gzip", value)
		}
		return nil
	}
	on, err := strconv.ParseBool(value)
	if err != nil {
		return fmt.Errorf("%s=%s: want true or false", key, value)
	}
	switch {
	case key == "oci-mediatypes" && !on:
		return fmt.Errorf("oci-mediatypes=false: strata's cache always uses OCI media types: remove the key")
	case key == "image-manifest" && !on:
		return fmt.Errorf("image-manifest=false: strata's cache is always an OCI image manifest: remove the key")
	case key == "ignore-error" && on && export:
		return fmt.Errorf("ignore-error=true is not supported for --cache-to yet: a failed export fails the build; remove the key")
	}
	return nil
}
