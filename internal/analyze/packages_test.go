package analyze

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/strata-build/strata/internal/dockerfile"
)

const (
	statusBash = "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2-1\nDepends: libc\n\n" +
		"Package: libc\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36\n\n"
	statusGcc = statusBash +
		"Package: gcc\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12\nDepends: libgcc, libc\n\n" +
		"Package: libgcc\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\nDepends: libc\n"
)

// packageImage is a usrmerged Debian-like base, an apt-get install, and a
// layer of Python and Node packages.
func packageImage(t *testing.T) []step {
	return []step{
		{createdBy: "base", specs: []string{
			"bin->usr/bin", "usr/", "usr/bin/", "usr/bin/bash=1000", "usr/lib/", "usr/lib/libc.so=4000",
			"etc/", "etc/hostname=50", "var/lib/dpkg/status<<" + statusBash,
			"var/lib/dpkg/info/bash.list<</.\n/bin\n/bin/bash\n",
			"var/lib/dpkg/info/libc:amd64.list<</usr/lib/libc.so\n",
		}},
		{createdBy: "RUN apt-get install -y gcc", specs: []string{
			"usr/bin/gcc=3000", "usr/lib/libgcc.so=500", "var/lib/dpkg/status<<" + statusGcc,
			"var/lib/dpkg/info/gcc.list<</usr/bin/gcc\n", "var/lib/dpkg/info/libgcc.list<</usr/lib/libgcc.so\n",
			"var/lib/apt/extended_states<<Package: libgcc\nArchitecture: amd64\nAuto-Installed: 1\n",
			"var/cache/apt/pkgcache.bin=700",
		}},
		{createdBy: "RUN pip install foo && npm install left", specs: []string{
			"usr/lib/python3/dist-packages/foo-1.0.dist-info/RECORD<<foo/__init__.py,,200\nfoo-1.0.dist-info/RECORD,,\n",
			"usr/lib/python3/dist-packages/foo/__init__.py=200",
			"app/node_modules/left/package.json<<{\"name\":\"left\",\"version\":\"2.0.0\"}",
			"app/node_modules/left/index.js=100",
			"app/node_modules/left/node_modules/inner/package.json<<{\"name\":\"inner\",\"version\":\"0.1.0\"}",
			"app/node_modules/left/node_modules/inner/x.js=30",
			"usr/bin/bash=1200",
		}},
	}
}

func TestPackages(t *testing.T) {
	df, err := dockerfile.Parse("Dockerfile", []byte("FROM base\nRUN apt-get install -y gcc\nRUN pip install foo && npm install left\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep := analyzeOf(t, Options{Dockerfile: df}, packageImage(t)...)
	type pkg struct {
		Name, Version, Manager string
		Bytes                  int64
		Layer, Line            int
		Auto                   bool
		RequiredBy             []string
	}
	var got []pkg
	for _, p := range rep.Packages {
		got = append(got, pkg{p.Name, p.Version, p.Manager, p.Bytes, p.Layer, p.Line, p.Auto, p.RequiredBy})
	}
	want := []pkg{
		{"libc", "2.36", "dpkg", 4000, 0, 0, false, []string{"bash", "gcc", "libgcc"}},
		{"gcc", "12", "dpkg", 3000, 1, 2, false, nil},
		{"bash", "5.2-1", "dpkg", 1200, 0, 0, false, nil},
		{"libgcc", "1", "dpkg", 500, 1, 2, true, []string{"gcc"}},
		{"foo", "1.0", "python", 200 + int64(len("foo/__init__.py,,200\nfoo-1.0.dist-info/RECORD,,\n")), 2, 3, false, nil},
		{"left", "2.0.0", "npm", 100 + int64(len(`{"name":"left","version":"2.0.0"}`)), 2, 3, false, nil},
		{"inner", "0.1.0", "npm", 30 + int64(len(`{"name":"inner","version":"0.1.0"}`)), 2, 3, false, nil},
	}
	if diff := cmp.Diff(got, want, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("packages (-got +want):\n%s", diff)
	}
	if got, want := rep.PackageBytes+rep.UnownedBytes, rep.FinalBytes; got != want {
		t.Errorf("package bytes %d + unowned bytes %d = %d, want the final bytes %d", rep.PackageBytes, rep.UnownedBytes, got, want)
	}
	var layerFiles int64
	for _, r := range rep.Rows {
		layerFiles += r.PackageBytes + r.UnownedBytes
		if r.PackageBytes+r.UnownedBytes > r.Size {
			t.Errorf("layer %d: package %d + unowned %d bytes exceed its size %d", r.Layer, r.PackageBytes, r.UnownedBytes, r.Size)
		}
	}
	if layerFiles != rep.FileBytes {
		t.Errorf("layers' package + unowned bytes = %d, want the file bytes of all layers %d", layerFiles, rep.FileBytes)
	}
	var bash Package
	for _, p := range rep.Packages {
		if p.Name == "bash" {
			bash = p
		}
	}
	if diff := cmp.Diff(bash.LayerBytes, []LayerBytes{{0, 1000}, {2, 1200}}); diff != "" {
		t.Errorf("bash's bytes per layer (-got +want):\n%s", diff)
	}
	if len(rep.Unowned) == 0 || rep.Unowned[0].Path != "/var/cache/apt" {
		t.Errorf("unowned directories = %+v, want /var/cache/apt first", rep.Unowned)
	}
	for _, u := range rep.Unowned {
		if u.Path == "/usr/bin" || u.Path == "/usr/lib" {
			t.Errorf("unowned directories include %s, whose files packages own", u.Path)
		}
	}
}

func TestPackagesApkAndRPM(t *testing.T) {
	rep := analyzeOf(t, Options{}, step{createdBy: "base", specs: []string{
		"lib/", "lib/apk/db/installed<<P:musl\nV:1.2\nF:lib\nR:ld-musl.so.1\n\nP:busybox\nV:1.36\nD:musl\nF:bin\nR:busybox\n",
		"lib/ld-musl.so.1=600", "bin/", "bin/busybox=900", "var/lib/rpm/rpmdb.sqlite=10",
	}})
	var got []string
	for _, p := range rep.Packages {
		got = append(got, p.Manager+":"+p.Name+"="+size(p.Bytes))
	}
	if diff := cmp.Diff(got, []string{"apk:busybox=900B", "apk:musl=600B"}); diff != "" {
		t.Errorf("packages (-got +want):\n%s", diff)
	}
	if len(rep.PackageNotes) != 1 {
		t.Errorf("notes = %q, want one about the RPM database", rep.PackageNotes)
	}
}

func TestCanonical(t *testing.T) {
	fs := newReplay(1)
	for _, e := range []entry{
		{path: "usr", kind: kindDir}, {path: "usr/bin", kind: kindDir}, {path: "bin", kind: kindFile, link: "usr/bin"},
		{path: "usr/lib", kind: kindDir}, {path: "lib64", kind: kindFile, link: "/usr/lib"},
		{path: "usr/lib/up", kind: kindFile, link: "../bin"}, {path: "loop", kind: kindFile, link: "loop"},
	} {
		fs.add(0, e)
	}
	for _, tc := range []struct{ in, want string }{
		{"/bin/bash", "usr/bin/bash"},
		{"/bin", "bin"},
		{"/lib64/x.so", "usr/lib/x.so"},
		{"/lib64/up/cc", "usr/bin/cc"},
		{"/etc/passwd", "etc/passwd"},
		{"/loop/x", "loop/x"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := fs.canonical(tc.in); got != tc.want {
				t.Errorf("canonical(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
