package pkgdb

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const dpkgStatus = `Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Version: 2.36-9
Depends: libgcc-s1
Description: GNU C Library
 continuation line: not a field

Package: gcc
Status: install ok installed
Architecture: amd64
Version: 4:12.2.0-3
Pre-Depends: dpkg (>= 1.17)
Depends: cpp (= 4:12.2.0-3), gcc-12 (>= 12.2.0-1~) | clang:any

Package: removed
Status: deinstall ok config-files
Architecture: all
Version: 1

`

func TestReadDpkg(t *testing.T) {
	files := map[string][]byte{
		DpkgStatus:                            []byte(dpkgStatus),
		"/var/lib/dpkg/info/libc6:amd64.list": []byte("/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n"),
		"/var/lib/dpkg/info/gcc.list":         []byte("/.\n/usr/bin/gcc\n"),
		AptExtended:                           []byte("Package: libc6\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: gcc\nArchitecture: amd64\nAuto-Installed: 0\n"),
	}
	got := Read(files)
	want := []Package{
		{Name: "gcc", Version: "4:12.2.0-3", Manager: Dpkg, Arch: "amd64", Depends: []string{"dpkg", "cpp", "gcc-12", "clang"},
			Files: []string{"/usr/bin/gcc"}, Record: DpkgStatus},
		{Name: "libc6", Version: "2.36-9", Manager: Dpkg, Arch: "amd64", Depends: []string{"libgcc-s1"}, Auto: true,
			Files: []string{"/lib", "/lib/x86_64-linux-gnu/libc.so.6"}, Record: DpkgStatus},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Read (-got +want):\n%s", diff)
	}
}

func TestParseApk(t *testing.T) {
	db := "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nD:so:libc.musl !conflict\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\n" +
		"P:busybox\nV:1.36.1-r5\nD:musl>=1.2 so:libc.musl-x86_64.so.1\nF:bin\nR:busybox\nF:etc\nR:securetty\n"
	got := ParseApk([]byte(db))
	want := []Package{
		{Name: "musl", Version: "1.2.4-r2", Manager: Apk, Arch: "x86_64", Depends: []string{"so:libc.musl"},
			Files: []string{"/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1"}, Record: ApkInstalled},
		{Name: "busybox", Version: "1.36.1-r5", Manager: Apk, Depends: []string{"musl", "so:libc.musl-x86_64.so.1"},
			Files: []string{"/bin/busybox", "/etc/securetty"}, Record: ApkInstalled},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ParseApk (-got +want):\n%s", diff)
	}
}

func TestParseRecord(t *testing.T) {
	p := "/usr/lib/python3/dist-packages/requests-2.28.1.dist-info/RECORD"
	rec := "requests/__init__.py,sha256=abc,4924\nrequests-2.28.1.dist-info/RECORD,,\n../../../bin/req,sha256=x,10\n\"odd,name.py\",,3\n"
	got, ok := ParseRecord(p, []byte(rec))
	if !ok {
		t.Fatal("ParseRecord: not a distribution")
	}
	want := Package{Name: "requests", Version: "2.28.1", Manager: Python, Record: p, Files: []string{
		"/usr/lib/python3/dist-packages/requests/__init__.py",
		"/usr/lib/python3/dist-packages/requests-2.28.1.dist-info/RECORD",
		"/usr/bin/req",
		"/usr/lib/python3/dist-packages/odd,name.py",
	}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ParseRecord (-got +want):\n%s", diff)
	}
}

func TestWanted(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{DpkgStatus, true},
		{"/var/lib/dpkg/status-old", false},
		{"/var/lib/dpkg/info/bash.list", true},
		{"/var/lib/dpkg/info/bash.md5sums", false},
		{ApkInstalled, true},
		{"/usr/lib/python3.11/site-packages/pip-23.0.dist-info/RECORD", true},
		{"/usr/lib/python3.11/site-packages/pip/RECORD", false},
		{"/app/node_modules/left-pad/package.json", true},
		{"/app/node_modules/@types/node/package.json", true},
		{"/app/node_modules/left-pad/lib/package.json", false},
		{"/app/package.json", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := Wanted(tc.path, 100); got != tc.want {
				t.Errorf("Wanted(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func TestParsePackageJSON(t *testing.T) {
	p := "/app/node_modules/@scope/lib/package.json"
	got, ok := ParsePackageJSON(p, []byte(`{"name":"@scope/lib","version":"1.2.3","dependencies":{"b":"^1","a":"2"}}`))
	if !ok {
		t.Fatal("ParsePackageJSON: not a package")
	}
	want := Package{Name: "@scope/lib", Version: "1.2.3", Manager: Node, Record: p, Depends: []string{"a", "b"}, Dirs: []string{"/app/node_modules/@scope/lib"}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ParsePackageJSON (-got +want):\n%s", diff)
	}
	if _, ok := ParsePackageJSON(p, []byte(`{not json`)); ok {
		t.Error("ParsePackageJSON of bad JSON: ok, want not a package")
	}
}

// TestGoBinary builds a real Go program and reads its module list.
func TestGoBinary(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !IsELF(data) {
		t.Fatal("the Go binary does not start like an ELF file")
	}
	got, ok := GoBinary("/usr/local/bin/hello", data)
	if !ok {
		t.Fatal("GoBinary: not a Go program")
	}
	want := Package{Name: "example.com/hello", Version: "(devel)", Manager: Go, Record: "/usr/local/bin/hello", Files: []string{"/usr/local/bin/hello"}}
	if diff := cmp.Diff(got, want, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GoBinary (-got +want):\n%s", diff)
	}
	if _, ok := GoBinary("/bin/sh", []byte("\x7fELF not go")); ok {
		t.Error("GoBinary of a non-Go ELF: ok, want not a Go program")
	}
}
