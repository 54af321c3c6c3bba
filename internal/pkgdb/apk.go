package pkgdb

import (
	"path"
	"strings"
)

// ParseApk returns the packages of Alpine's /lib/apk/db/installed with the
// files they own (F: directory lines, R: file lines in the last directory).
func ParseApk(data []byte) []Package {
	var out []Package
	var cur *Package
	dir := ""
	flush := func() {
		if cur != nil && cur.Name != "" {
			out = append(out, *cur)
		}
		cur, dir = nil, ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		if cur == nil {
			cur = &Package{Manager: Apk, Record: ApkInstalled}
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'D':
			for _, d := range strings.Fields(v) {
				if strings.HasPrefix(d, "!") {
					continue
				}
				if i := strings.IndexAny(d, "<>=~"); i >= 0 {
					d = d[:i]
				}
				cur.Depends = append(cur.Depends, d)
			}
		case 'F':
			dir = "/" + strings.Trim(v, "/")
		case 'R':
			cur.Files = append(cur.Files, path.Join(dir, v))
		}
	}
	flush()
	return out
}
