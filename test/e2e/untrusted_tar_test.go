package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// untrustedArchive writes a docker archive (legacy layout) of one image
// named tag whose layers are the given tars, and returns its path.
func untrustedArchive(t *testing.T, tag string, layers ...[]byte) string {
	t.Helper()
	var diffIDs, names []string
	files := map[string][]byte{}
	for _, l := range layers {
		sum := sha256.Sum256(l)
		h := hex.EncodeToString(sum[:])
		diffIDs = append(diffIDs, "sha256:"+h)
		names = append(names, h+"/layer.tar")
		files[h+"/layer.tar"] = l
	}
	cfg, err := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(sum[:]) + ".json"
	files[cfgName] = cfg
	manifest, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": names}})
	if err != nil {
		t.Fatal(err)
	}
	files["manifest.json"] = manifest
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range append([]string{"manifest.json", cfgName}, names...) {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[n])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "archive.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// untrustedStoreState is what a refused import or load must leave as it
// was: the blobs, the names (index.json) and the layer dirs.
func untrustedStoreState(t *testing.T, s *strata) []string {
	t.Helper()
	index, err := os.ReadFile(filepath.Join(s.root, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := append([]string{"index.json " + string(index)}, storeBlobs(t, s)...)
	return append(out, storeLayerDirs(t, s)...)
}

// TestUntrustedTarsRefused checks that strata import (a root filesystem
// tarball) and strata load (every layer of a docker archive) refuse a tar
// that could not be extracted safely, or (import) holds a real file named
// .wh.*, with a message naming the entry, and store nothing: no blob, no
// name, no layer dir, nothing left in the store's tmp/, nothing written on
// the host.
func TestUntrustedTarsRefused(t *testing.T) {
	s := newStrata(t)
	evil := "strata-e2e-evil-" + storeRandom(t)
	cases := []struct {
		name    string
		entries []storeTarEntry
		errs    []string // what the refusal says
		layerOK bool     // valid as a layer (a whiteout), refused in a root filesystem only
	}{
		{
			name:    "dotdot",
			entries: []storeTarEntry{{name: "../" + evil, body: "evil"}},
			errs:    []string{`"../` + evil + `"`, "climbs out of the root"},
		},
		{
			name:    "path through a symlink of the tar",
			entries: []storeTarEntry{{name: "link", link: "/", typ: tar.TypeSymlink}, {name: "link/tmp/" + evil, body: "evil"}},
			errs:    []string{`"link/tmp/` + evil + `"`, `goes through "link", a symlink an earlier entry made`},
		},
		{
			name:    "hard link outside",
			entries: []storeTarEntry{{name: "hl", link: "../../etc/shadow", typ: tar.TypeLink}},
			errs:    []string{`"hl"`, "climbs out of the root"},
		},
		{
			name:    "hard link to a later entry",
			entries: []storeTarEntry{{name: "hl", link: "later", typ: tar.TypeLink}, {name: "later", body: "x"}},
			errs:    []string{`"hl"`, "is not an earlier entry"},
		},
		{
			name:    "regular .wh. file",
			entries: []storeTarEntry{{name: "smuggled", body: "real"}, {name: ".wh.smuggled", body: "smuggled content"}},
			errs:    []string{`".wh.smuggled"`, "cannot be stored in a layer"},
			layerOK: true,
		},
	}
	for i, c := range cases {
		t.Run("import/"+c.name, func(t *testing.T) {
			ref := "e2e-untrusted-" + string(rune('a'+i)) + ":1"
			before := untrustedStoreState(t, s)
			r := s.run("import", storeHostileTar(t, c.entries), ref)
			if r.code == 0 {
				t.Fatalf("strata import succeeded; want it to refuse the tarball")
			}
			for _, w := range append(c.errs, "nothing was stored") {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("strata import: stderr %q does not say %q", r.stderr, w)
				}
			}
			if diff := cmp.Diff(untrustedStoreState(t, s), before); diff != "" {
				t.Errorf("the refused import changed the store (-got +want):\n%s", diff)
			}
			storeAssertTmpEmpty(t, s)
			if r := s.run("inspect", ref); r.code == 0 {
				t.Errorf("the refused import named %s", ref)
			}
		})
		if c.layerOK {
			continue
		}
		t.Run("load/"+c.name, func(t *testing.T) {
			ref := "e2e-untrusted-load-" + string(rune('a'+i)) + ":1"
			base, err := os.ReadFile(env.busyboxTar)
			if err != nil {
				t.Fatal(err)
			}
			var top bytes.Buffer
			tw := tar.NewWriter(&top)
			for _, e := range c.entries {
				h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
				if h.Typeflag == 0 {
					h.Typeflag = tar.TypeReg
				} else {
					h.Size = 0
				}
				if err := tw.WriteHeader(h); err != nil {
					t.Fatal(err)
				}
				if h.Size > 0 {
					tw.Write([]byte(e.body))
				}
			}
			tw.Close()
			archive := untrustedArchive(t, ref, base, top.Bytes())
			before := untrustedStoreState(t, s)
			for _, how := range []string{"file", "stdin"} {
				var r result
				if how == "file" {
					r = s.run("load", "-i", archive)
				} else {
					data, err := os.ReadFile(archive)
					if err != nil {
						t.Fatal(err)
					}
					r = s.runIn(data, "load")
				}
				if r.code == 0 {
					t.Fatalf("strata load (%s) succeeded; want it to refuse the archive", how)
				}
				for _, w := range append(c.errs, "cannot be loaded, nothing was stored") {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("strata load (%s): stderr %q does not say %q", how, r.stderr, w)
					}
				}
				if diff := cmp.Diff(untrustedStoreState(t, s), before); diff != "" {
					t.Errorf("the refused load (%s) changed the store (-got +want):\n%s", how, diff)
				}
				storeAssertTmpEmpty(t, s)
				if r := s.run("inspect", ref); r.code == 0 {
					t.Errorf("the refused load named %s", ref)
				}
			}
		})
	}
	if _, err := os.Lstat(filepath.Join("/tmp", evil)); err == nil {
		os.Remove(filepath.Join("/tmp", evil))
		t.Errorf("/tmp/%s was written on the host", evil)
	}
	// a good archive of the same shape loads
	good := untrustedArchive(t, "e2e-untrusted-good:1", func() []byte {
		b, err := os.ReadFile(env.busyboxTar)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}())
	s.must("load", "-i", good)
	s.must("run", "--rm", "e2e-untrusted-good:1", "true")
}
