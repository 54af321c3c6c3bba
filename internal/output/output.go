package output

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// NamedImage is an image with the names it is saved under (normalised or
// familiar names, as given: "busybox:latest" or
// "docker.io/library/busybox:latest").
type NamedImage struct {
	Image v1.Image
	Names []string
}

// Sink is a destination for images: DockerArchive and OCIArchive, which
// `strata save` writes through.
type Sink interface {
	Write(ctx context.Context, images []NamedImage) error
}

// DockerArchive is a sink writing a `docker save` archive to W.
type DockerArchive struct{ W io.Writer }

var _ Sink = DockerArchive{}

// Write implements Sink with WriteDockerArchive.
func (d DockerArchive) Write(ctx context.Context, images []NamedImage) error {
	return WriteDockerArchive(ctx, d.W, images)
}

// OCIArchive is a sink writing a tar of an OCI image layout to W.
type OCIArchive struct{ W io.Writer }

var _ Sink = OCIArchive{}

// Write implements Sink with WriteOCIArchive.
func (o OCIArchive) Write(ctx context.Context, images []NamedImage) error {
	return WriteOCIArchive(ctx, o.W, images)
}

// imageName is a tag reference in its three spellings.
type imageName struct {
	full     string // docker.io/library/busybox:latest
	familiar string // busybox:latest
	repo     string // busybox (familiar repository)
	tag      string // latest
}

// parseName parses a tag name with docker's normalisation. Digest references
// are refused: an archive records tags.
func parseName(s string) (imageName, error) {
	t, err := name.NewTag(s)
	if err != nil {
		if _, derr := name.NewDigest(s); derr == nil {
			return imageName{}, fmt.Errorf("name %q: a digest reference cannot name an image in an archive", s)
		}
		return imageName{}, fmt.Errorf("name %q: %w", s, err)
	}
	reg := t.RegistryStr()
	repo := t.RepositoryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	fam := reg + "/" + repo
	if reg == "docker.io" {
		fam = repo
		if rest, ok := strings.CutPrefix(repo, "library/"); ok && !strings.Contains(rest, "/") {
			fam = rest
		}
	}
	return imageName{
		full:     reg + "/" + repo + ":" + t.TagStr(),
		familiar: fam + ":" + t.TagStr(),
		repo:     fam,
		tag:      t.TagStr(),
	}, nil
}
