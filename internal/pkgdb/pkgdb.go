package pkgdb

import (
	"path"
	"sort"
	"strings"
)

// The managers a Package can come from.
const (
	Dpkg   = "dpkg"
	Apk    = "apk"
	Python = "python"
	Node   = "npm"
	Go     = "go"
)

// The database paths of dpkg, apt and apk.
const (
	DpkgStatus     = "/var/lib/dpkg/status"
	dpkgInfo       = "/var/lib/dpkg/info/"
	AptExtended    = "/var/lib/apt/extended_states"
	ApkInstalled   = "/lib/apk/db/installed"
	maxDatabaseLen = 64 << 20
)

// Package is one installed package and the paths it owns.
type Package struct {
	Name    string
	Version string
	Manager string
	Arch    string
	// Depends are the names of the packages it needs (Depends and
	// Pre-Depends for dpkg, D: for apk, dependencies for npm, the modules of
	// a Go binary), without versions.
	Depends []string
	// Auto is true when the package manager installed it only because
	// another package needed it (apt's Auto-Installed).
	Auto bool
	// Files are the absolute paths it owns, as its database lists them
	// (directories included for dpkg).
	Files []string
	// Dirs are directories whose whole content it owns (a Node package's
	// directory); a deeper package's directory inside is that package's.
	Dirs []string
	// Record is the database file it was read from.
	Record string
}

// Key is how the package is told apart from others: manager, name and, for
// dpkg's multi-arch packages, the architecture.
func (p Package) Key() string {
	return p.Manager + ":" + p.Name
}

// Wanted reports whether the file at p (absolute, clean) of size bytes is one
// Read needs. Go binaries are found by content: see GoBinary.
func Wanted(p string, size int64) bool {
	if size > maxDatabaseLen {
		return false
	}
	switch {
	case p == DpkgStatus, p == AptExtended, p == ApkInstalled:
		return true
	case strings.HasPrefix(p, dpkgInfo) && strings.HasSuffix(p, ".list"):
		return true
	case path.Base(p) == "RECORD" && strings.HasSuffix(path.Dir(p), ".dist-info"):
		return true
	case path.Base(p) == "package.json":
		return nodePackageDir(path.Dir(p))
	}
	return false
}

// nodePackageDir reports whether dir is node_modules/<name> or
// node_modules/@scope/<name>.
func nodePackageDir(dir string) bool {
	parent := path.Dir(dir)
	if path.Base(parent) == "node_modules" {
		return !strings.HasPrefix(path.Base(dir), "@") && !strings.HasPrefix(path.Base(dir), ".")
	}
	return strings.HasPrefix(path.Base(parent), "@") && path.Base(path.Dir(parent)) == "node_modules"
}

// Read returns the packages the database files hold (path → content, as
// Wanted selected them), sorted by manager and name.
func Read(files map[string][]byte) []Package {
	var pkgs []Package
	if st, ok := files[DpkgStatus]; ok {
		pkgs = append(pkgs, readDpkg(st, files)...)
	}
	if db, ok := files[ApkInstalled]; ok {
		pkgs = append(pkgs, ParseApk(db)...)
	}
	for p, data := range files {
		switch {
		case path.Base(p) == "RECORD":
			if pkg, ok := ParseRecord(p, data); ok {
				pkgs = append(pkgs, pkg)
			}
		case path.Base(p) == "package.json":
			if pkg, ok := ParsePackageJSON(p, data); ok {
				pkgs = append(pkgs, pkg)
			}
		}
	}
	sort.Slice(pkgs, func(a, b int) bool {
		if pkgs[a].Manager != pkgs[b].Manager {
			return pkgs[a].Manager < pkgs[b].Manager
		}
		if pkgs[a].Name != pkgs[b].Name {
			return pkgs[a].Name < pkgs[b].Name
		}
		return pkgs[a].Record < pkgs[b].Record
	})
	return pkgs
}

// Versions returns name → version of the packages a status-like database
// (dpkg's status or apk's installed) at p lists, nil for other paths. It
// tells which layer installed which version.
func Versions(p string, data []byte) map[string]string {
	var pkgs []Package
	switch p {
	case DpkgStatus:
		pkgs = ParseDpkgStatus(data)
	case ApkInstalled:
		pkgs = ParseApk(data)
	default:
		return nil
	}
	out := make(map[string]string, len(pkgs))
	for _, pkg := range pkgs {
		out[pkg.Key()] = pkg.Version
	}
	return out
}

// Unreadable is a package database pkgdb cannot read.
type Unreadable struct {
	Path   string
	Reason string
}

// UnreadableDatabases returns the databases pkgdb knows of and cannot read.
func UnreadableDatabases() []Unreadable {
	const why = "RPM's database needs rpm's libraries to read (its headers are rpm's binary format)"
	return []Unreadable{
		{Path: "/var/lib/rpm/rpmdb.sqlite", Reason: why},
		{Path: "/usr/lib/sysimage/rpm/rpmdb.sqlite", Reason: why},
		{Path: "/var/lib/rpm/Packages", Reason: why + ", in Berkeley DB"},
		{Path: "/var/lib/rpm/Packages.db", Reason: why + ", in an ndb file"},
		{Path: "/usr/lib/sysimage/rpm/Packages.db", Reason: why + ", in an ndb file"},
	}
}
