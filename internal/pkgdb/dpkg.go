package pkgdb

import (
	"bufio"
	"bytes"
	"strings"
)

// stanzas splits a Debian control file (dpkg's status, apt's
// extended_states) into field maps; continuation lines are dropped, as no
// field read here spans lines.
func stanzas(data []byte) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = map[string]string{}
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if ok {
			cur[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// ParseDpkgStatus returns the installed packages of dpkg's status file,
// without their files.
func ParseDpkgStatus(data []byte) []Package {
	var out []Package
	for _, s := range stanzas(data) {
		name := s["package"]
		f := strings.Fields(s["status"])
		if name == "" || len(f) != 3 || f[2] == "not-installed" || f[2] == "config-files" {
			continue
		}
		pkg := Package{Name: name, Version: s["version"], Manager: Dpkg, Arch: s["architecture"], Record: DpkgStatus}
		pkg.Depends = append(depNames(s["pre-depends"]), depNames(s["depends"])...)
		out = append(out, pkg)
	}
	return out
}

// depNames returns the package names of a Depends field: "a (>= 1), b:any |
// c" gives a, b and c.
func depNames(field string) []string {
	var out []string
	for _, alt := range strings.FieldsFunc(field, func(r rune) bool { return r == ',' || r == '|' }) {
		name := strings.TrimSpace(alt)
		if i := strings.IndexAny(name, " (["); i >= 0 {
			name = name[:i]
		}
		name, _, _ = strings.Cut(name, ":")
		if name != "" {
			out = append(out, name)
		}
	}
	return out
}

// ParseDpkgList returns the paths of a dpkg info/*.list file.
func ParseDpkgList(data []byte) []string {
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" && line != "/." {
			out = append(out, line)
		}
	}
	return out
}

// ParseAptExtended returns the packages apt's extended_states marks as
// automatically installed.
func ParseAptExtended(data []byte) map[string]bool {
	out := map[string]bool{}
	for _, s := range stanzas(data) {
		if s["auto-installed"] == "1" && s["package"] != "" {
			out[s["package"]] = true
		}
	}
	return out
}

// readDpkg returns dpkg's packages with their files and apt's auto flags.
func readDpkg(status []byte, files map[string][]byte) []Package {
	pkgs := ParseDpkgStatus(status)
	auto := ParseAptExtended(files[AptExtended])
	for i := range pkgs {
		p := &pkgs[i]
		p.Auto = auto[p.Name]
		for _, name := range []string{p.Name + ":" + p.Arch, p.Name} {
			if list, ok := files[dpkgInfo+name+".list"]; ok {
				p.Files = ParseDpkgList(list)
				break
			}
		}
	}
	return pkgs
}
