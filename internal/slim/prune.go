package slim

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/strata-build/strata/internal/layer"
)

// Stats counts the files of a root filesystem: regular files and symlinks
// (directories are not counted), and the bytes of the regular files, each
// hard-linked file once.
type Stats struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// RemovedDir is a directory (three levels deep at most) and what was
// removed under it.
type RemovedDir struct {
	Path  string `json:"path"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
}

// Packages counts the image's Debian packages (dpkg's file lists) that
// still have a file, when the image has a dpkg database.
type Packages struct {
	Before int `json:"before"`
	After  int `json:"after"`
	// Kept are the packages some of whose files are kept, sorted.
	Kept []string `json:"kept,omitempty"`
}

// pruned is what prune did.
type pruned struct {
	before, after Stats
	kept, removed []string // absolute paths, every entry, directories too
	dirs          []RemovedDir
	packages      *Packages
}

// prune removes from dir, the files the image has above its kept base
// (the keeper's root when no base is kept), every entry the keeper does
// not keep (a directory stays when something under it is kept), and
// counts. The whiteouts and opaque directories of a layer over a kept base
// stay, so that what the image deleted stays deleted.
func (k *keeper) prune(dir string) (pruned, error) {
	var res pruned
	needed := map[string]bool{}
	marks, err := overlayMarks(dir)
	if err != nil {
		return res, err
	}
	for _, set := range []map[string]bool{k.entry, k.tree, marks} {
		for rel := range set {
			for p := rel; p != "" && p != "."; p = parentOf(p) {
				needed[p] = true
			}
		}
	}
	owners, pkgs, err := k.dpkgFiles()
	if err != nil {
		return res, err
	}
	keptPkgs := map[string]bool{}
	seenBefore, seenAfter := map[[2]uint64]bool{}, map[[2]uint64]bool{}
	removedIn := map[string]*RemovedDir{}
	var roots []string // removed entries whose parent stays
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		keep := needed[rel] || k.inTree(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if marks[rel] {
			return nil // a whiteout or an opaque directory: not a file
		}
		count(&res.before, fi, seenBefore)
		if keep {
			count(&res.after, fi, seenAfter)
			res.kept = append(res.kept, "/"+rel)
			if pkg, ok := owners[rel]; ok && !d.IsDir() {
				keptPkgs[pkg] = true
			}
			return nil
		}
		res.removed = append(res.removed, "/"+rel)
		if needed[parentOf(rel)] || parentOf(rel) == "" {
			roots = append(roots, p)
		}
		if !d.IsDir() {
			dir := topDir(rel)
			r := removedIn[dir]
			if r == nil {
				r = &RemovedDir{Path: dir}
				removedIn[dir] = r
			}
			r.Files++
			if fi.Mode().IsRegular() {
				r.Bytes += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("walking the image's files: %w", err)
	}
	for _, p := range roots {
		if err := os.RemoveAll(p); err != nil {
			return res, fmt.Errorf("removing %s: %w", p, err)
		}
	}
	for _, r := range removedIn {
		res.dirs = append(res.dirs, *r)
	}
	sort.Slice(res.dirs, func(i, j int) bool {
		if res.dirs[i].Bytes != res.dirs[j].Bytes {
			return res.dirs[i].Bytes > res.dirs[j].Bytes
		}
		return res.dirs[i].Path < res.dirs[j].Path
	})
	if pkgs > 0 {
		res.packages = &Packages{Before: pkgs, After: len(keptPkgs)}
		for p := range keptPkgs {
			res.packages.Kept = append(res.packages.Kept, p)
		}
		sort.Strings(res.packages.Kept)
	}
	return res, nil
}

// inTree tells whether rel is in a directory kept whole.
func (k *keeper) inTree(rel string) bool {
	for p := rel; p != ""; p = parentOf(p) {
		if k.tree[p] {
			return true
		}
	}
	return false
}

// count adds one entry to s; a hard-linked file's bytes count once.
func count(s *Stats, fi fs.FileInfo, seen map[[2]uint64]bool) {
	if fi.IsDir() {
		return
	}
	s.Files++
	if !fi.Mode().IsRegular() {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id := [2]uint64{uint64(st.Dev), st.Ino}
		if seen[id] {
			return
		}
		seen[id] = true
	}
	s.Bytes += fi.Size()
}

// topDir is the directory of rel, cut to three levels: "/usr/share/doc".
func topDir(rel string) string {
	parts := strings.Split(parentOf(rel), "/")
	if len(parts) > 3 {
		parts = parts[:3]
	}
	return "/" + strings.Join(parts, "/")
}

// dpkgFiles reads dpkg's file lists of the image: the package owning each
// regular file (its path resolved through the image's directory symlinks,
// as /lib to /usr/lib), and the number of packages.
func (k *keeper) dpkgFiles() (map[string]string, int, error) {
	lists, err := filepath.Glob(filepath.Join(k.root, "var/lib/dpkg/info/*.list"))
	if err != nil || len(lists) == 0 {
		return nil, 0, err
	}
	owners := map[string]string{}
	dirs := map[string]string{} // a list's directory → the real one
	for _, l := range lists {
		data, err := os.ReadFile(l)
		if err != nil {
			return nil, 0, fmt.Errorf("reading dpkg's file list: %w", err)
		}
		pkg, _, _ := strings.Cut(strings.TrimSuffix(filepath.Base(l), ".list"), ":")
		for _, line := range strings.Split(string(data), "\n") {
			if !path.IsAbs(line) || line == "/" {
				continue
			}
			d := path.Dir(line)
			real, ok := dirs[d]
			if !ok {
				r, found, err := k.resolve(d, false, 0)
				if err != nil {
					return nil, 0, err
				}
				if found {
					real = r
				}
				dirs[d] = real
			}
			if real != "" {
				owners[path.Join(real, path.Base(line))] = pkg
			}
		}
	}
	return owners, len(lists), nil
}

// overlayMarks returns the whiteouts (0/0 character devices) and opaque
// directories of an overlay-format dir.
func overlayMarks(dir string) (map[string]bool, error) {
	marks := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		switch {
		case d.Type()&fs.ModeCharDevice != 0:
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Rdev == 0 {
				marks[rel] = true
			}
		case d.IsDir():
			opaque, err := layer.IsOpaque(p)
			if err != nil {
				return err
			}
			if opaque {
				marks[rel] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the whiteouts: %w", err)
	}
	return marks, nil
}
