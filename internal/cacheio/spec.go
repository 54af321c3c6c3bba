package cacheio

import (
	"fmt"
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
		case "compression", "oci-mediatypes", "image-manifest", "ignore-error":
			// BuildKit options strata's format makes moot: layers are gzip,
			// the manifest an OCI image manifest.
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
