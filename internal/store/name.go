package store

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Docker's reference grammar (github.com/distribution/reference), used to
// reject names go-containerregistry accepts but docker does not.
var (
	pathComponentRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	domainRe        = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	tagRe           = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	fullIDRe        = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

const (
	dockerHub       = "docker.io"
	officialRepoPfx = "library/"
)

// Normalize returns the full form of an image reference as docker
// normalises it: "busybox" → "docker.io/library/busybox:latest",
// "localhost:5000/x" → "localhost:5000/x:latest", "x@sha256:…" →
// "docker.io/library/x@sha256:…" (a tag next to a digest is dropped).
func Normalize(ref string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid image reference %q: %s", ref, why)
	}
	if ref == "" {
		return "", bad("empty name")
	}
	if fullIDRe.MatchString(ref) {
		return "", bad("cannot specify 64-byte hexadecimal strings as a name")
	}
	base := ref
	if i := strings.IndexByte(base, '@'); i >= 0 {
		base = base[:i]
	}
	if strings.ToLower(base) != base {
		// docker accepts upper case only in the registry host.
		repo := base
		if i := strings.IndexByte(repo, '/'); i >= 0 {
			if host := repo[:i]; host == "localhost" || strings.ContainsAny(host, ".:") {
				repo = repo[i+1:]
			}
		}
		if j := strings.LastIndexByte(repo, ':'); j >= 0 {
			repo = repo[:j]
		}
		if strings.ToLower(repo) != repo {
			return "", bad("repository name must be lowercase")
		}
	}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		// go-containerregistry's message repeats the reference; say why instead.
		why := "invalid reference format"
		if strings.Count(ref, ":") > 1 && !strings.Contains(ref, "/") {
			why = "more than one ':' (want NAME[:TAG], or HOST:PORT/NAME[:TAG])"
		}
		return "", bad(why)
	}
	reg := parsed.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = dockerHub
	} else if !domainRe.MatchString(reg) {
		return "", bad("invalid registry " + reg)
	}
	repo := parsed.Context().RepositoryStr()
	for _, c := range strings.Split(repo, "/") {
		if !pathComponentRe.MatchString(c) {
			return "", bad(fmt.Sprintf("invalid repository path component %q", c))
		}
	}
	full := reg + "/" + repo
	if len(full) > 255 {
		return "", bad("repository name must not be more than 255 characters")
	}
	switch p := parsed.(type) {
	case name.Tag:
		if !tagRe.MatchString(p.TagStr()) {
			return "", bad("invalid tag " + p.TagStr())
		}
		return full + ":" + p.TagStr(), nil
	case name.Digest:
		return full + "@" + p.DigestStr(), nil
	}
	return "", bad("neither a tag nor a digest")
}

// FamiliarName returns the short form docker shows for a normalised name:
// "docker.io/library/busybox:latest" → "busybox:latest",
// "docker.io/foo/bar:1" → "foo/bar:1"; other registries are kept.
func FamiliarName(full string) string {
	rest, ok := strings.CutPrefix(full, dockerHub+"/")
	if !ok {
		return full
	}
	if r2, ok := strings.CutPrefix(rest, officialRepoPfx); ok {
		repo := r2
		if i := strings.IndexAny(repo, ":@"); i >= 0 {
			repo = repo[:i]
		}
		if !strings.Contains(repo, "/") {
			return r2
		}
	}
	return rest
}

// RepoTag splits a normalised name into the REPOSITORY and TAG columns of
// `docker images`: "docker.io/library/busybox:latest" → ("busybox",
// "latest"). A digest name has the tag "<none>".
func RepoTag(full string) (repo, tag string) {
	fam := FamiliarName(full)
	if i := strings.IndexByte(fam, '@'); i >= 0 {
		return fam[:i], "<none>"
	}
	if i := strings.LastIndexByte(fam, ':'); i >= 0 && !strings.Contains(fam[i:], "/") {
		return fam[:i], fam[i+1:]
	}
	return fam, "<none>"
}

// repository returns the name without its tag or digest.
func repository(full string) string {
	if i := strings.IndexByte(full, '@'); i >= 0 {
		return full[:i]
	}
	if i := strings.LastIndexByte(full, ':'); i >= 0 && !strings.Contains(full[i:], "/") {
		return full[:i]
	}
	return full
}
