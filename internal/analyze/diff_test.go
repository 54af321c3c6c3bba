package analyze

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestComparePackages(t *testing.T) {
	old := []Package{
		{Name: "gcc", Version: "12", Manager: "dpkg", Bytes: 5000},
		{Name: "libc6", Version: "2.36", Manager: "dpkg", Bytes: 4000},
		{Name: "bash", Version: "5.2", Manager: "dpkg", Bytes: 1000},
		{Name: "zlib", Version: "1", Manager: "dpkg", Bytes: 100},
		{Name: "same", Version: "1", Manager: "python", Bytes: 10},
	}
	new := []Package{
		{Name: "libc6", Version: "2.37", Manager: "dpkg", Bytes: 4100},
		{Name: "bash", Version: "5.2", Manager: "dpkg", Bytes: 1000},
		{Name: "zlib", Version: "1", Manager: "dpkg", Bytes: 60},
		{Name: "same", Version: "1", Manager: "python", Bytes: 10},
		{Name: "left", Version: "2", Manager: "npm", Bytes: 300},
	}
	got, sum := ComparePackages(old, new)
	want := []PackageChange{
		{Kind: PackageRemoved, Name: "gcc", Manager: "dpkg", OldVersion: "12", OldBytes: 5000, Delta: -5000},
		{Kind: PackageAdded, Name: "left", Manager: "npm", Version: "2", Bytes: 300, Delta: 300},
		{Kind: PackageUpgraded, Name: "libc6", Manager: "dpkg", OldVersion: "2.36", Version: "2.37", OldBytes: 4000, Bytes: 4100, Delta: 100},
		{Kind: PackageResized, Name: "zlib", Manager: "dpkg", OldVersion: "1", Version: "1", OldBytes: 100, Bytes: 60, Delta: -40},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("changes (-got +want):\n%s", diff)
	}
	wantSum := PackageSummary{Added: 1, AddedBytes: 300, Removed: 1, RemovedBytes: 5000, Upgraded: 1, Delta: 300 - 5000 + 100 - 40}
	if diff := cmp.Diff(sum, wantSum); diff != "" {
		t.Errorf("summary (-got +want):\n%s", diff)
	}
}

func TestDiffImages(t *testing.T) {
	steps := packageImage(t)
	a := imageOf(t, steps[:1]...)
	b := imageOf(t, steps...)
	d, err := DiffImages(context.Background(), a, b)
	if err != nil {
		t.Fatalf("DiffImages: %v", err)
	}
	var got []string
	for _, c := range d.Packages {
		got = append(got, string(c.Kind)+" "+c.Name)
	}
	want := []string{"added gcc", "added libgcc", "added foo", "resized bash", "added left", "added inner"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("package changes (-got +want):\n%s", diff)
	}
	if d.Result == nil || d.Summary.Added == 0 {
		t.Errorf("file changes = %+v, want the added files", d.Result)
	}
}
