package analyze

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/strata-build/strata/internal/pkgdb"
)

// Package is an installed package of the final filesystem and what it costs.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Manager is the package's manager: dpkg, apk, python, npm or go.
	Manager string `json:"manager"`
	// Bytes is the size of its files in the final filesystem.
	Bytes int64 `json:"bytes"`
	// Files is the number of its files (not directories) in the final
	// filesystem.
	Files int `json:"files"`
	// Layer is the layer that installed it (for dpkg and apk the first
	// layer of the last run whose database lists its version), -1 when
	// unknown.
	Layer int `json:"layer"`
	// Line is that layer's Dockerfile line, 0 when unknown (always in the
	// JSON: the packages array's documented fields).
	Line int `json:"line"`
	// Instruction is that layer's instruction.
	Instruction string `json:"instruction,omitempty"`
	// Auto is true when the package manager installed it only as another
	// package's dependency (apt's extended_states).
	Auto bool `json:"auto,omitempty"`
	// RequiredBy are the installed packages that depend on it.
	RequiredBy []string `json:"requiredBy,omitempty"`
	// LayerBytes are the bytes of its files each layer holds, hidden ones
	// included; they add up to more than Bytes when a layer rewrote them.
	LayerBytes []LayerBytes `json:"layerBytes,omitempty"`
}

// LayerBytes is a number of bytes one layer holds.
type LayerBytes struct {
	Layer int   `json:"layer"`
	Bytes int64 `json:"bytes"`
}

// owners says which package owns which path of the final filesystem.
type owners struct {
	files map[string]int // path relative to the root → package index
	dirs  map[string]int // directory whose subtree a package owns
}

// owner returns the index of the package owning p (relative to the root),
// or -1.
func (o *owners) owner(p string) int {
	if i, ok := o.files[p]; ok {
		return i
	}
	if len(o.dirs) == 0 {
		return -1
	}
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if i, ok := o.dirs[d]; ok {
			return i
		}
	}
	return -1
}

// packageReport is what attributing files to packages gives the report.
type packageReport struct {
	packages []Package
	unowned  []PathSize
	notes    []string
	owned    int64 // bytes of the final filesystem packages own
	free     int64 // bytes of the final filesystem no package owns
}

// attribute reads the package databases of the final filesystem and
// attributes every file, of the final filesystem and of every layer, to its
// package or to "unowned".
func attribute(fs *replay, scans []scan, rows map[int]*Row) packageReport {
	var pr packageReport
	dbs := map[string][]byte{}
	var gobins []pkgdb.Package
	walk(fs.root, func(n *node) {
		if n.dir || n.layer < 0 {
			return
		}
		p := pathOf(n)
		if data, ok := scans[n.layer].dbs[p]; ok {
			dbs[p] = data
		}
		if pkg, ok := scans[n.layer].gobins[p]; ok {
			gobins = append(gobins, pkg)
		}
	})
	raw := append(pkgdb.Read(dbs), gobins...)
	for _, u := range pkgdb.UnreadableDatabases() {
		if n := fs.lookup(strings.TrimPrefix(u.Path, "/")); n != nil && !n.dir {
			pr.notes = append(pr.notes, fmt.Sprintf("%s not read (%s): its packages' files count as unowned", u.Path, u.Reason))
		}
	}
	own := owners{files: map[string]int{}, dirs: map[string]int{}}
	pr.packages = make([]Package, len(raw))
	for i, rp := range raw {
		pr.packages[i] = Package{Name: rp.Name, Version: rp.Version, Manager: rp.Manager, Auto: rp.Auto, Layer: -1}
		for _, f := range rp.Files {
			own.files[fs.canonical(f)] = i
		}
		for _, d := range rp.Dirs {
			own.dirs[fs.canonical(d)] = i
		}
	}
	pr.finalBytes(fs, &own)
	pr.layerBytes(scans, &own, rows)
	installedLayers(fs, scans, raw, pr.packages)
	requiredBy(raw, pr.packages)
	for i := range pr.packages {
		p := &pr.packages[i]
		if r := rows[p.Layer]; r != nil && p.Layer >= 0 {
			p.Line, p.Instruction = r.Line, r.Instruction
		}
	}
	sort.SliceStable(pr.packages, func(a, b int) bool {
		if pr.packages[a].Bytes != pr.packages[b].Bytes {
			return pr.packages[a].Bytes > pr.packages[b].Bytes
		}
		return pr.packages[a].Name < pr.packages[b].Name
	})
	return pr
}

// finalBytes adds the files of the final filesystem to their packages, and
// the others to their directory's unowned bytes.
func (pr *packageReport) finalBytes(fs *replay, own *owners) {
	byDir := map[string]*PathSize{}
	walk(fs.root, func(n *node) {
		if n.dir {
			return
		}
		p := strings.TrimPrefix(pathOf(n), "/")
		if i := own.owner(p); i >= 0 {
			pr.packages[i].Bytes += n.size
			pr.packages[i].Files++
			pr.owned += n.size
			return
		}
		pr.free += n.size
		if n.size == 0 {
			return
		}
		d := "/" + path.Dir(p)
		if d == "/." {
			d = "/"
		}
		ps := byDir[d]
		if ps == nil {
			ps = &PathSize{Path: d, Layer: n.layer}
			byDir[d] = ps
		}
		ps.Size += n.size
	})
	for _, ps := range byDir {
		pr.unowned = append(pr.unowned, *ps)
	}
	sort.Slice(pr.unowned, func(a, b int) bool {
		if pr.unowned[a].Size != pr.unowned[b].Size {
			return pr.unowned[a].Size > pr.unowned[b].Size
		}
		return pr.unowned[a].Path < pr.unowned[b].Path
	})
}

// layerBytes attributes the files every layer holds, hidden ones included,
// setting PackageBytes and UnownedBytes on the layers' rows.
func (pr *packageReport) layerBytes(scans []scan, own *owners, rows map[int]*Row) {
	for l, sc := range scans {
		perPkg := map[int]int64{}
		var owned, free int64
		for _, e := range sc.entries {
			if e.kind != kindFile || e.size == 0 {
				continue
			}
			if i := own.owner(e.path); i >= 0 {
				perPkg[i] += e.size
				owned += e.size
			} else {
				free += e.size
			}
		}
		for i, b := range perPkg {
			pr.packages[i].LayerBytes = append(pr.packages[i].LayerBytes, LayerBytes{Layer: l, Bytes: b})
		}
		if r := rows[l]; r != nil {
			r.PackageBytes, r.UnownedBytes = owned, free
		}
	}
}

// installedLayers sets the layer that installed each package: for the
// managers with one database of all packages (dpkg, apk), the first layer of
// the last run of layers whose database lists the package's final version;
// for the others the layer that wrote its record last.
func installedLayers(fs *replay, scans []scan, raw []pkgdb.Package, pkgs []Package) {
	history := map[string][]map[string]string{} // database → per layer (nil: not written)
	for _, db := range []string{pkgdb.DpkgStatus, pkgdb.ApkInstalled} {
		for _, sc := range scans {
			data, ok := sc.dbs[db]
			if !ok {
				history[db] = append(history[db], nil)
				continue
			}
			history[db] = append(history[db], pkgdb.Versions(db, data))
		}
	}
	for i, rp := range raw {
		layers, ok := history[rp.Record]
		if !ok {
			if n := fs.lookup(strings.TrimPrefix(rp.Record, "/")); n != nil {
				pkgs[i].Layer = n.layer
			}
			continue
		}
		installed := -1
		for l, vers := range layers {
			switch {
			case vers == nil:
			case vers[rp.Key()] == rp.Version:
				if installed < 0 {
					installed = l
				}
			default:
				installed = -1
			}
		}
		pkgs[i].Layer = installed
	}
}

// requiredBy sets RequiredBy from the other packages' Depends.
func requiredBy(raw []pkgdb.Package, pkgs []Package) {
	byName := map[string]int{}
	for i, rp := range raw {
		byName[rp.Manager+":"+rp.Name] = i
	}
	for _, rp := range raw {
		seen := map[int]bool{}
		for _, d := range rp.Depends {
			j, ok := byName[rp.Manager+":"+d]
			if !ok || seen[j] || raw[j].Name == rp.Name {
				continue
			}
			seen[j] = true
			pkgs[j].RequiredBy = append(pkgs[j].RequiredBy, rp.Name)
		}
	}
	for i := range pkgs {
		sort.Strings(pkgs[i].RequiredBy)
	}
}

// canonical returns p (absolute, as a package database lists it) relative
// to the root with the symlinks of its directories resolved in the final
// filesystem, as layers store it: with /bin a link to usr/bin, dpkg's
// "/bin/bash" is "usr/bin/bash".
func (r *replay) canonical(p string) string {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	var cur []string
	for hops := 0; len(parts) > 0; {
		name := parts[0]
		parts = parts[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		if len(parts) > 0 && hops < 40 {
			if n := r.lookup(strings.Join(append(cur, name), "/")); n != nil && n.link != "" {
				hops++
				if path.IsAbs(n.link) {
					cur = nil
				}
				parts = append(strings.Split(strings.Trim(n.link, "/"), "/"), parts...)
				continue
			}
		}
		cur = append(cur, name)
	}
	return strings.Join(cur, "/")
}
