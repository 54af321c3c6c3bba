package output

import (
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/registry"
)

// Type is the kind of an output (`-o type=…`), as buildx names them.
type Type string

const (
	// TypeImage writes the image into the store (the default); with Push
	// it is also pushed to its names.
	TypeImage Type = "image"
	// TypeRegistry pushes the image to its names (image with push=true).
	TypeRegistry Type = "registry"
	// TypeLocal writes the final stage's files into the directory Dest.
	TypeLocal Type = "local"
	// TypeTar writes the final stage's files as one tar to Dest.
	TypeTar Type = "tar"
	// TypeOCI writes an OCI image layout, as a tar or (Tar false) a
	// directory.
	TypeOCI Type = "oci"
	// TypeDocker writes a `docker load` archive.
	TypeDocker Type = "docker"
)

// Estargz is the compression of eStargz layers (registry.Estargz).
const Estargz = registry.Estargz

// Stdout is the Dest that means standard output.
const Stdout = "-"

// Spec is one parsed `-o`/`--output` value.
type Spec struct {
	Type Type
	// Dest is the file or directory written ("-" for stdout); local, tar,
	// oci and docker need one.
	Dest string
	// Names are the image's names (name=…, several separated by commas);
	// the build's -t tags are added to them.
	Names []string
	// Push pushes the image to its names (type=registry, push=true).
	Push bool
	// Compression of the layers the output writes ("" for gzip; a docker
	// archive's are always plain tars).
	Compression layer.Compression
	// CompressionLevel is the level handed to the compressor (0: default).
	CompressionLevel int
	// ForceCompression recompresses layers already compressed another way
	// (a base image's gzip layers in a zstd output).
	ForceCompression bool
	// Tar is false for an OCI layout written as a directory (tar=false).
	Tar bool
}

// keysFor lists the keys each output type reads; any other key is refused.
var keysFor = map[Type][]string{
	TypeImage:    {"name", "push", "compression", "compression-level", "force-compression"},
	TypeRegistry: {"name", "compression", "compression-level", "force-compression"},
	TypeLocal:    {"dest"},
	TypeTar:      {"dest"},
	TypeOCI:      {"dest", "name", "tar", "compression", "compression-level", "force-compression"},
	// A docker archive's layers are plain tars, which every docker loads.
	TypeDocker: {"dest", "name"},
}

// ParseSpec parses an output as buildx spells it: CSV key=value pairs
// (type=oci,dest=out.tar,compression=zstd), a bare "-" (a tar of the files
// on stdout) or a bare path (the files into that directory). Unknown types,
// unknown keys and bad values are errors.
func ParseSpec(s string) (Spec, error) {
	if s == Stdout {
		return Spec{Type: TypeTar, Dest: Stdout}, nil
	}
	if !strings.Contains(s, "=") {
		if s == "" {
			return Spec{}, fmt.Errorf("empty output: give type=TYPE[,KEY=VALUE…], a directory, or - for a tar on stdout")
		}
		return Spec{Type: TypeLocal, Dest: s}, nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return Spec{}, fmt.Errorf("output %q: %w", s, err)
	}
	kv := map[string]string{}
	var order []string
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return Spec{}, fmt.Errorf("output %q: %q is not KEY=VALUE", s, f)
		}
		if _, dup := kv[k]; dup {
			return Spec{}, fmt.Errorf("output %q: key %q is given twice", s, k)
		}
		kv[k] = v
		order = append(order, k)
	}
	t := Type(kv["type"])
	known, ok := keysFor[t]
	if !ok {
		return Spec{}, fmt.Errorf("output %q: unknown type %q (want image, registry, local, tar, oci or docker)", s, kv["type"])
	}
	for _, k := range order {
		if k != "type" && !slices.Contains(known, k) {
			return Spec{}, fmt.Errorf("output %q: type=%s has no key %q (its keys: %s)", s, t, k, strings.Join(known, ", "))
		}
	}
	sp := Spec{Type: t, Dest: kv["dest"], Tar: true, Push: t == TypeRegistry}
	if err := sp.parseValues(kv); err != nil {
		return Spec{}, fmt.Errorf("output %q: %w", s, err)
	}
	return sp, nil
}

// parseValues fills sp from the keys that take values, checking them.
func (sp *Spec) parseValues(kv map[string]string) error {
	switch sp.Type {
	case TypeLocal, TypeTar, TypeOCI, TypeDocker:
		if sp.Dest == "" {
			return fmt.Errorf("type=%s needs dest=PATH (or dest=- for stdout)", sp.Type)
		}
		if sp.Dest == Stdout && sp.Type == TypeLocal {
			return fmt.Errorf("type=local writes a directory, not stdout: use type=tar,dest=- for a tar on stdout")
		}
	}
	for _, n := range strings.Split(kv["name"], ",") {
		if n = strings.TrimSpace(n); n != "" {
			sp.Names = append(sp.Names, n)
		}
	}
	var err error
	for k, dst := range map[string]*bool{"push": &sp.Push, "tar": &sp.Tar, "force-compression": &sp.ForceCompression} {
		if v, ok := kv[k]; ok {
			if *dst, err = strconv.ParseBool(v); err != nil {
				return fmt.Errorf("%s=%q: want true or false", k, v)
			}
		}
	}
	if sp.Type == TypeOCI && !sp.Tar && sp.Dest == Stdout {
		return fmt.Errorf("tar=false writes a directory, not stdout: give dest=DIR")
	}
	if v, ok := kv["compression"]; ok {
		switch c := layer.Compression(v); c {
		case layer.Gzip, layer.Zstd, Estargz:
			sp.Compression = c
		case "uncompressed":
			sp.Compression = layer.Uncompressed
		default:
			return fmt.Errorf("compression=%q: want gzip, zstd, estargz or uncompressed", v)
		}
	}
	if v, ok := kv["compression-level"]; ok {
		return sp.parseLevel(v)
	}
	return nil
}

// parseLevel checks compression-level against the compression's range.
func (sp *Spec) parseLevel(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("compression-level=%q: want a number", v)
	}
	c := sp.Compression
	if c == "" {
		c = sp.defaultCompression()
	}
	hi, ok := map[layer.Compression]int{layer.Gzip: 9, Estargz: 9, layer.Zstd: 22}[c]
	if !ok {
		return fmt.Errorf("compression-level=%d: uncompressed layers have no level", n)
	}
	if n < 0 || n > hi {
		return fmt.Errorf("compression-level=%d: use 1 to %d for %s, or 0 for its default", n, hi, c)
	}
	sp.CompressionLevel = n
	return nil
}

// defaultCompression is the compression when none is asked: gzip, as
// buildx.
func (sp *Spec) defaultCompression() layer.Compression { return layer.Gzip }
