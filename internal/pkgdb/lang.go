package pkgdb

import (
	"bytes"
	"debug/buildinfo"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"path"
	"sort"
	"strings"
)

// ParseRecord returns the Python distribution whose RECORD file is at p
// (".../site-packages/NAME-VERSION.dist-info/RECORD"): its files are the
// RECORD's paths, relative to the directory holding the .dist-info.
func ParseRecord(p string, data []byte) (Package, bool) {
	info := path.Dir(p)
	base := strings.TrimSuffix(path.Base(info), ".dist-info")
	name, version, ok := strings.Cut(base, "-")
	if !ok || name == "" {
		return Package{}, false
	}
	pkg := Package{Name: name, Version: version, Manager: Python, Record: p}
	site := path.Dir(info)
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A malformed line: keep what was read; its files count as unowned.
			break
		}
		if len(rec) == 0 || rec[0] == "" {
			continue
		}
		f := rec[0]
		if !path.IsAbs(f) {
			f = path.Join(site, f)
		}
		pkg.Files = append(pkg.Files, path.Clean(f))
	}
	return pkg, true
}

// ParsePackageJSON returns the Node package whose package.json is at p
// (".../node_modules/NAME/package.json"): it owns its directory, except the
// packages installed below it.
func ParsePackageJSON(p string, data []byte) (Package, bool) {
	var meta struct {
		Name         string            `json:"name"`
		Version      string            `json:"version"`
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &meta); err != nil || meta.Name == "" {
		return Package{}, false
	}
	pkg := Package{Name: meta.Name, Version: meta.Version, Manager: Node, Record: p, Dirs: []string{path.Dir(p)}}
	for d := range meta.Dependencies {
		pkg.Depends = append(pkg.Depends, d)
	}
	sort.Strings(pkg.Depends)
	return pkg, true
}

// GoBinary returns the Go program whose executable at p has content data:
// named by its main module, owning the file, depending on the modules it was
// built with. ok is false for files that are not Go executables.
func GoBinary(p string, data []byte) (Package, bool) {
	if !bytes.Contains(data, []byte("\xff Go buildinf:")) {
		return Package{}, false
	}
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return Package{}, false
	}
	name := bi.Main.Path
	if name == "" {
		name = bi.Path
	}
	if name == "" {
		name = path.Base(p)
	}
	pkg := Package{Name: name, Version: bi.Main.Version, Manager: Go, Record: p, Files: []string{p}}
	for _, d := range bi.Deps {
		pkg.Depends = append(pkg.Depends, d.Path)
	}
	return pkg, true
}

// IsELF reports whether head starts like an ELF file.
func IsELF(head []byte) bool {
	return len(head) >= 4 && string(head[:4]) == "\x7fELF"
}
