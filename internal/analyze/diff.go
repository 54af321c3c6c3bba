package analyze

import (
	"context"
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/imgdiff"
	"github.com/strata-build/strata/internal/layer"
)

// ChangeKind is how a package differs from one image to another.
type ChangeKind string

// The kinds of package changes.
const (
	PackageAdded    ChangeKind = "added"
	PackageRemoved  ChangeKind = "removed"
	PackageUpgraded ChangeKind = "upgraded" // another version (higher or not: versions are compared as text)
	PackageResized  ChangeKind = "resized"  // the same version with other bytes (files deleted or added around it)
)

// PackageChange is a package that differs between two images.
type PackageChange struct {
	Kind       ChangeKind `json:"kind"`
	Name       string     `json:"name"`
	Manager    string     `json:"manager"`
	OldVersion string     `json:"oldVersion,omitempty"`
	Version    string     `json:"version,omitempty"`
	OldBytes   int64      `json:"oldBytes"`
	Bytes      int64      `json:"bytes"`
	// Delta is Bytes - OldBytes.
	Delta int64 `json:"delta"`
}

// PackageSummary counts the package changes and their bytes.
type PackageSummary struct {
	Added        int   `json:"added"`
	AddedBytes   int64 `json:"addedBytes"`
	Removed      int   `json:"removed"`
	RemovedBytes int64 `json:"removedBytes"`
	Upgraded     int   `json:"upgraded"`
	// Delta is the change of all package bytes from the first image to the
	// second.
	Delta int64 `json:"delta"`
}

// ImageDiff is how a second image differs from a first: its files and its
// packages.
type ImageDiff struct {
	// Result is the file changes (JSON "changes" and "summary", as before
	// packages were compared).
	*imgdiff.Result
	Packages        []PackageChange `json:"packages"`
	PackagesSummary PackageSummary  `json:"packagesSummary"`
	// PackagesCompared is the number of packages the two images hold
	// together; 0 when neither has a package database.
	PackagesCompared int `json:"packagesCompared"`
}

// DiffImages compares b with a: the files it adds, deletes and changes, and
// the packages it adds, removes and upgrades with their bytes.
func DiffImages(ctx context.Context, a, b v1.Image) (*ImageDiff, error) {
	files, err := imgdiff.Images(ctx, a, b)
	if err != nil {
		return nil, err
	}
	opts := Options{Compression: layer.Uncompressed}
	ra, err := Analyze(ctx, a, opts)
	if err != nil {
		return nil, fmt.Errorf("reading the packages of the first image: %w", err)
	}
	rb, err := Analyze(ctx, b, opts)
	if err != nil {
		return nil, fmt.Errorf("reading the packages of the second image: %w", err)
	}
	d := &ImageDiff{Result: files, PackagesCompared: len(ra.Packages) + len(rb.Packages)}
	d.Packages, d.PackagesSummary = ComparePackages(ra.Packages, rb.Packages)
	return d, nil
}

// ComparePackages returns the packages that differ from old to new, the
// largest byte changes first, and their summary.
func ComparePackages(old, new []Package) ([]PackageChange, PackageSummary) {
	key := func(p Package) string { return p.Manager + "\x00" + p.Name }
	before := map[string]Package{}
	for _, p := range old {
		before[key(p)] = p
	}
	changes := []PackageChange{}
	var sum PackageSummary
	for _, p := range new {
		c := PackageChange{Name: p.Name, Manager: p.Manager, Version: p.Version, Bytes: p.Bytes}
		o, ok := before[key(p)]
		delete(before, key(p))
		switch {
		case !ok:
			c.Kind = PackageAdded
			sum.Added++
			sum.AddedBytes += p.Bytes
		case o.Version != p.Version:
			c.Kind, c.OldVersion, c.OldBytes = PackageUpgraded, o.Version, o.Bytes
			sum.Upgraded++
		case o.Bytes != p.Bytes:
			c.Kind, c.OldVersion, c.OldBytes = PackageResized, o.Version, o.Bytes
		default:
			continue
		}
		c.Delta = c.Bytes - c.OldBytes
		sum.Delta += c.Delta
		changes = append(changes, c)
	}
	for _, o := range before {
		changes = append(changes, PackageChange{Kind: PackageRemoved, Name: o.Name, Manager: o.Manager, OldVersion: o.Version, OldBytes: o.Bytes, Delta: -o.Bytes})
		sum.Removed++
		sum.RemovedBytes += o.Bytes
		sum.Delta -= o.Bytes
	}
	sort.Slice(changes, func(i, j int) bool {
		ai, aj := abs(changes[i].Delta), abs(changes[j].Delta)
		if ai != aj {
			return ai > aj
		}
		if changes[i].Manager != changes[j].Manager {
			return changes[i].Manager < changes[j].Manager
		}
		return changes[i].Name < changes[j].Name
	})
	return changes, sum
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
