package e2e

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The helpers of these tests of the Dockerfile 1.x COPY/ADD flags are
// prefixed with cfl.

// cflContext is the context of the flag tests, laid out as BuildKit's
// testExcludedFilesOnCopy and the --parents examples of its reference.md.
var cflContext = map[string]string{
	"dir1/file-101.png": "2", "dir1/file-102.txt": "3", "dir1/file-103.jpeg": "4",
	"dir2/file-201.pdf": "6", "dir2/file-202.jpeg": "7", "dir2/file-203.png": "8",
	"dir3/file-301.mp3": "9", "dir3/file-302.mpeg": "10",
	"x/a.txt": "xa", "x/y/a.txt": "xya", "x/y/b.txt": "xyb", "x/y/c.md": "xyc", "y/a.txt": "ya",
	"src/a.txt": "sa", "src/x/b.txt": "sxb", "src/x/y/c.txt": "sxyc", "src/x/y/d.go": "sxyd",
	"tool.sh": "#!/bin/sh\necho tool\n",
}

// cflFiles returns the regular files of entries under dir, "name=content".
func cflFiles(entries map[string]bldEntry, dir string) []string {
	var out []string
	for name, e := range entries {
		if strings.HasPrefix(name, dir+"/") && e.hdr.Typeflag == '0' {
			out = append(out, strings.TrimPrefix(name, dir+"/")+"="+e.data)
		}
	}
	sort.Strings(out)
	return out
}

// cflLayers returns ref's diff_ids.
func cflLayers(t *testing.T, s *strata, ref string) []string {
	t.Helper()
	var layers []string
	out := s.must("inspect", "--format", "{{json .RootFS.Layers}}", ref).stdout
	if err := json.Unmarshal([]byte(out), &layers); err != nil {
		t.Fatalf("inspect %s: %v: %s", ref, err, out)
	}
	return layers
}

// TestCopyExcludeParentsChmodUnpack builds the flags of Dockerfile 1.x
// COPY/ADD and compares the trees with what BuildKit's tests and
// reference.md give for the same context.
func TestCopyExcludeParentsChmodUnpack(t *testing.T) {
	archive := bldTarGz(t, map[string]string{"inner/x.txt": "from the tarball\n"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, archive)
	}))
	defer srv.Close()
	files := map[string]string{"arch.tar.gz": archive}
	for k, v := range cflContext {
		files[k] = v
	}
	df := `FROM busybox AS base
COPY . /ctx
FROM busybox
COPY --exclude=*/*.png --exclude=*/*.jpeg . /1
ADD --exclude=*.mp3 dir3/ /3/
COPY --exclude=*.mp* --exclude=*.jpeg --exclude=*.png --exclude=*.pdf dir* /5/
COPY --from=base --exclude=**/*.md --exclude=a.txt /ctx/x /fromx/
COPY --parents ./x/a.txt ./y/a.txt /parents/
COPY --parents ./x/./y/*.txt /pivot/
COPY --parents ./src/**/*.txt /deep/
COPY --chmod=u+x,go=r tool.sh /sym/
COPY --chmod=a=r tool.sh /ro/
COPY --chmod=0750 tool.sh /oct/
ADD --unpack=false arch.tar.gz /packed/
ADD --unpack=true ` + srv.URL + `/remote.tar.gz /remote/
ADD ` + srv.URL + `/plain.tar.gz /plain/
`
	s := newStrata(t)
	s.must("build", "-t", "flags", bldContext(t, df, files))
	e := bldExport(t, s, "flags")
	tests := []struct {
		dir  string
		want []string
	}{
		{"1", []string{"dir1/file-102.txt=3", "dir2/file-201.pdf=6", "dir3/file-301.mp3=9", "dir3/file-302.mpeg=10"}},
		{"3", []string{"file-302.mpeg=10"}},
		{"5", []string{"file-102.txt=3"}},
		{"fromx", []string{"y/a.txt=xya", "y/b.txt=xyb"}},
		{"parents", []string{"x/a.txt=xa", "y/a.txt=ya"}},
		{"pivot", []string{"y/a.txt=xya", "y/b.txt=xyb"}},
		{"deep", []string{"src/a.txt=sa", "src/x/b.txt=sxb", "src/x/y/c.txt=sxyc"}},
		{"packed", []string{"arch.tar.gz=" + archive}},
		{"remote", []string{"inner/x.txt=from the tarball\n"}},
		{"plain", []string{"plain.tar.gz=" + archive}},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			got := cflFiles(e, tc.dir)
			if tc.dir == "1" { // BuildKit's test looks at the dirs only
				got = slices.DeleteFunc(got, func(f string) bool { return !strings.HasPrefix(f, "dir") })
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("/%s holds %q, want %q", tc.dir, got, tc.want)
			}
		})
	}
	modes := []struct {
		name string
		want int64
	}{{"sym/tool.sh", 0o744}, {"ro/tool.sh", 0o444}, {"oct/tool.sh", 0o750}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if got := e[m.name].hdr.Mode & 0o7777; got != m.want {
				t.Errorf("/%s mode %04o, want %04o", m.name, got, m.want)
			}
		})
	}
}

// TestCopyFlagErrors: a bad --chmod or a --parents pivot that is not a
// directory fails with the Dockerfile's line.
func TestCopyFlagErrors(t *testing.T) {
	s := newStrata(t)
	tests := []struct{ name, df, want string }{
		{"bad symbolic chmod", "FROM busybox\nCOPY --chmod=u+z tool.sh /t\n", "Dockerfile:2"},
		{"bad octal chmod", "FROM busybox\nCOPY --chmod=999 tool.sh /t\n", "Dockerfile:2"},
		{"pivot not a dir", "FROM busybox\nCOPY --parents ./tool.sh/./x /t/\n", "Dockerfile:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.run("build", "--progress=plain", bldContext(t, tt.df, cflContext))
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want an error at %q:\n%s", r.code, tt.want, r.stderr)
			}
		})
	}
}

// TestCopyLink: COPY --link makes a layer that does not depend on the
// layers below (a symlink there is not followed; the layer holds plain
// directories, as BuildKit's reference.md says), with the files a plain
// COPY gives, and the layer is reused, the same blob, when the steps
// before it change (BuildKit's testCopyLinkDotDestDir and cache reuse).
func TestCopyLink(t *testing.T) {
	s := newStrata(t)
	files := map[string]string{"a.txt": "a\n", "d/b.txt": "b\n"}
	base := "FROM busybox\nRUN mkdir /real && ln -s /real /dest && echo %s > /marker\n"
	link := bldContext(t, fmt.Sprintf(base, "one")+"COPY --link a.txt /dest/\nWORKDIR /w\nCOPY --link d ./sub/\n", files)
	s.must("build", "-t", "link1", link)
	e := bldExport(t, s, "link1")
	if h, ok := e["dest"]; !ok || h.hdr.Typeflag != '5' {
		t.Errorf("/dest is not a directory in the image with --link: %+v", h.hdr)
	}
	if got := bldFile(t, e, "dest/a.txt"); got != "a\n" {
		t.Errorf("/dest/a.txt = %q", got)
	}
	if got := bldFile(t, e, "w/sub/b.txt"); got != "b\n" {
		t.Errorf("/w/sub/b.txt = %q", got)
	}
	if got := bldFile(t, e, "marker"); got != "one\n" {
		t.Errorf("/marker = %q: the layers below are gone", got)
	}
	if top := cctxLastLayer(t, s, "link1"); strings.Join(top, " ") != "w/ w/sub/ w/sub/b.txt" {
		t.Errorf("the top --link layer holds %q, want only the copied tree", top)
	}

	// without --link the copy follows the symlink of the layer below
	plain := bldContext(t, fmt.Sprintf(base, "one")+"COPY a.txt /dest/\n", files)
	s.must("build", "-t", "nolink", plain)
	if got := bldFile(t, bldExport(t, s, "nolink"), "real/a.txt"); got != "a\n" {
		t.Errorf("/real/a.txt = %q without --link", got)
	}

	// a changed step below: the --link layer is reused (same diff_id,
	// CACHED), a plain COPY runs again
	l1 := cflLayers(t, s, "link1")
	r := s.must("build", "--progress=plain", "-t", "link2",
		bldContext(t, fmt.Sprintf(base, "two")+"COPY --link a.txt /dest/\nWORKDIR /w\nCOPY --link d ./sub/\n", files))
	if st := bldStatus(t, r.stderr, "COPY --link a.txt"); st != "CACHED" {
		t.Errorf("COPY --link after a changed RUN: %s, want CACHED:\n%s", st, r.stderr)
	}
	l2 := cflLayers(t, s, "link2")
	if len(l1) != len(l2) || l1[len(l1)-1] != l2[len(l2)-1] || l1[len(l1)-3] != l2[len(l2)-3] || l1[len(l1)-4] == l2[len(l2)-4] {
		t.Errorf("layers\n%q\n%q\nwant the --link layers shared and the RUN's differ", l1, l2)
	}
	if got := bldFile(t, bldExport(t, s, "link2"), "marker"); got != "two\n" {
		t.Errorf("/marker = %q in the rebuilt image", got)
	}
	r = s.must("build", "--progress=plain", bldContext(t, fmt.Sprintf(base, "three")+"COPY a.txt /dest/\n", files))
	if st := bldStatus(t, r.stderr, "COPY a.txt"); st != "DONE" {
		t.Errorf("plain COPY after a changed RUN: %s, want DONE", st)
	}
}

// TestAddChecksumAlgorithms: ADD --checksum takes sha256, sha384 and
// sha512 digests, as BuildKit's (go-digest's algorithms); a mismatch or
// another algorithm fails at the ADD's line.
func TestAddChecksumAlgorithms(t *testing.T) {
	payload := "checked payload\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, payload) }))
	defer srv.Close()
	s512 := sha512.Sum512([]byte(payload))
	s384 := sha512.Sum384([]byte("other"))
	s := newStrata(t)
	df := "FROM busybox\nADD --checksum=sha512:" + hex.EncodeToString(s512[:]) + " " + srv.URL + "/p.txt /p.txt\n"
	s.must("build", "-t", "sum512", bldContext(t, df, nil))
	if got := bldFile(t, bldExport(t, s, "sum512"), "p.txt"); got != payload {
		t.Errorf("/p.txt = %q", got)
	}
	for _, flag := range []string{"sha384:" + hex.EncodeToString(s384[:]), "md5:00112233445566778899aabbccddeeff"} {
		r := s.run("build", bldContext(t, "FROM busybox\nADD --checksum="+flag+" "+srv.URL+"/p.txt /p.txt\n", nil))
		if r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:2") || !strings.Contains(r.stderr, "checksum") {
			t.Errorf("--checksum=%s: exit %d, want a located checksum error:\n%s", flag, r.code, r.stderr)
		}
	}
}
