package conformance

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// A manifest is the comparable form of an image's merged filesystem: one
// JSON line per path, sorted by path bytes, with the fields (in this order,
// each only where it applies) path, type, mode, uid, gid, size, sha256,
// link, target, major, minor, xattrs, mtime. It is the Go port of the shared
// harness's treesum.py and prints the same bytes for the same tar stream.

// runtimeFiles are injected by a container runtime and are no image content.
var runtimeFiles = map[string]bool{
	"/.dockerenv": true, "/etc/hosts": true, "/etc/hostname": true,
	"/etc/resolv.conf": true, "/etc/mtab": true,
}

// runtimeTrees are the mount points docker export always holds.
var runtimeTrees = []string{"/dev", "/proc", "/sys"}

// manifestOptions says what a manifest leaves out.
type manifestOptions struct {
	// Before, when not zero, prints the mtime of non-directories older
	// than it (seconds since the epoch): files of the context, of the base
	// images and of archives keep theirs; files written by the build do not.
	Before int64
	// Exclude drops the paths it matches; Volatile keeps them but drops
	// size, sha256 and mtime.
	Exclude, Volatile []*regexp.Regexp
	// XattrFilter selects the xattrs printed (nil: all).
	XattrFilter *regexp.Regexp
}

// treeEntry is one path of a manifest.
type treeEntry struct {
	path, typ, mode   string
	uid, gid          int64
	owned             bool // uid and gid apply
	size              int64
	sha256            string
	regular           bool // size and sha256 apply
	link, target      string
	hasTarget, device bool
	major, minor      int64
	xattrs            map[string]string
	mtime             int64
	hasMtime          bool
}

// normPath makes "./a/b/", "/a/b" and "a/b" all "/a/b", resolving ".." as
// treesum.py does.
func normPath(name string) string {
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
		case "..":
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
		default:
			parts = append(parts, p)
		}
	}
	return "/" + strings.Join(parts, "/")
}

func isRuntimePath(p string) bool {
	if runtimeFiles[p] {
		return true
	}
	for _, t := range runtimeTrees {
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}

// readManifest reads a whole-filesystem tar stream (docker export, strata
// export) and returns its manifest lines.
func readManifest(r io.Reader, opts manifestOptions) ([]string, error) {
	entries := map[string]*treeEntry{}
	hardlinks := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the tar stream: %w", err)
		}
		p := normPath(hdr.Name)
		if p == "/" {
			continue
		}
		delete(hardlinks, p)
		if hdr.Typeflag == tar.TypeLink {
			hardlinks[p] = normPath(hdr.Linkname)
			entries[p] = &treeEntry{path: p}
			continue
		}
		e, err := entryOf(hdr, tr, opts.XattrFilter)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		e.path = p
		entries[p] = e
	}
	resolveHardlinks(entries, hardlinks)
	dropRuntimePaths(entries)
	return manifestLines(entries, opts), nil
}

// entryOf describes one tar entry that is not a hard link.
func entryOf(hdr *tar.Header, r io.Reader, xfilter *regexp.Regexp) (*treeEntry, error) {
	e := &treeEntry{uid: int64(hdr.Uid), gid: int64(hdr.Gid), owned: true}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeCont, tar.TypeGNUSparse:
		e.typ, e.regular = "file", true
	case tar.TypeDir:
		e.typ = "dir"
	case tar.TypeSymlink:
		e.typ, e.target, e.hasTarget = "symlink", hdr.Linkname, true
	case tar.TypeFifo:
		e.typ = "fifo"
	case tar.TypeChar, tar.TypeBlock:
		e.typ, e.device = "char", true
		if hdr.Typeflag == tar.TypeBlock {
			e.typ = "block"
		}
		e.major, e.minor = hdr.Devmajor, hdr.Devminor
	default:
		e.typ = fmt.Sprintf("unknown-b'%c'", hdr.Typeflag)
	}
	if e.typ != "symlink" {
		e.mode = fmt.Sprintf("%04o", hdr.Mode&0o7777)
	}
	if e.regular {
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil {
			return nil, fmt.Errorf("hashing the content: %w", err)
		}
		e.size, e.sha256 = n, hex.EncodeToString(h.Sum(nil))
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || (xfilter != nil && !xfilter.MatchString(name)) {
			continue
		}
		if e.xattrs == nil {
			e.xattrs = map[string]string{}
		}
		e.xattrs[name] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	if e.typ != "dir" {
		e.mtime, e.hasMtime = hdr.ModTime.Unix(), true
	}
	return e, nil
}

// resolveHardlinks shows every path of a hard-link group as the file it
// names, with link set to the group's smallest path.
func resolveHardlinks(entries map[string]*treeEntry, hardlinks map[string]string) {
	groups := map[string]map[string]bool{}
	for p, target := range hardlinks {
		seen := map[string]bool{}
		for {
			next, ok := hardlinks[target]
			if !ok || seen[target] {
				break
			}
			seen[target] = true
			target = next
		}
		base := entries[target]
		if base == nil || base.typ != "file" || hardlinks[target] != "" {
			entries[p] = &treeEntry{path: p, typ: "hardlink-to-missing", target: target, hasTarget: true}
			continue
		}
		e := *base
		e.path, e.link = p, ""
		entries[p] = &e
		if groups[target] == nil {
			groups[target] = map[string]bool{target: true}
		}
		groups[target][p] = true
	}
	for _, members := range groups {
		leader := ""
		for p := range members {
			if leader == "" || p < leader {
				leader = p
			}
		}
		for p := range members {
			entries[p].link = leader
		}
	}
}

// dropRuntimePaths leaves out what a container runtime injects, and /etc
// when nothing else is left under it.
func dropRuntimePaths(entries map[string]*treeEntry) {
	for p := range entries {
		if isRuntimePath(p) {
			delete(entries, p)
		}
	}
	if _, ok := entries["/etc"]; ok {
		for p := range entries {
			if strings.HasPrefix(p, "/etc/") {
				return
			}
		}
		delete(entries, "/etc")
	}
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, r := range res {
		if r.MatchString(s) {
			return true
		}
	}
	return false
}

// manifestLines writes the entries as sorted JSON lines.
func manifestLines(entries map[string]*treeEntry, opts manifestOptions) []string {
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []string
	for _, p := range paths {
		if matchesAny(opts.Exclude, p) {
			continue
		}
		e := *entries[p]
		if matchesAny(opts.Volatile, p) {
			e.regular, e.hasMtime = false, false
		}
		if e.hasMtime && (opts.Before == 0 || e.mtime >= opts.Before) {
			e.hasMtime = false
		}
		out = append(out, e.line())
	}
	return out
}

// line is the entry as treesum.py prints it (json.dumps, default
// separators, ensure_ascii).
func (e *treeEntry) line() string {
	f := []string{`"path": ` + pyQuote(e.path)}
	add := func(k, v string) { f = append(f, pyQuote(k)+": "+v) }
	if e.typ != "" {
		add("type", pyQuote(e.typ))
	}
	if e.mode != "" {
		add("mode", pyQuote(e.mode))
	}
	if e.owned {
		add("uid", strconv.FormatInt(e.uid, 10))
		add("gid", strconv.FormatInt(e.gid, 10))
	}
	if e.regular {
		add("size", strconv.FormatInt(e.size, 10))
		add("sha256", pyQuote(e.sha256))
	}
	if e.link != "" {
		add("link", pyQuote(e.link))
	}
	if e.hasTarget {
		add("target", pyQuote(e.target))
	}
	if e.device {
		add("major", strconv.FormatInt(e.major, 10))
		add("minor", strconv.FormatInt(e.minor, 10))
	}
	if len(e.xattrs) > 0 {
		names := make([]string, 0, len(e.xattrs))
		for k := range e.xattrs {
			names = append(names, k)
		}
		sort.Strings(names)
		var xs []string
		for _, k := range names {
			xs = append(xs, pyQuote(k)+": "+pyQuote(e.xattrs[k]))
		}
		add("xattrs", "{"+strings.Join(xs, ", ")+"}")
	}
	if e.hasMtime {
		add("mtime", strconv.FormatInt(e.mtime, 10))
	}
	return "{" + strings.Join(f, ", ") + "}"
}
