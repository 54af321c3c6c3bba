package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPullDamagedBlob pulls from Debian's docker-registry an image whose
// top layer blob was damaged on the registry's disk: the pull fails naming
// the layer and what to do, and the store keeps no image, no layer dir and
// no blob of that layer, and nothing in tmp/. The intact base layer may
// stay, as docker keeps what it downloaded.
func TestPullDamagedBlob(t *testing.T) {
	reg, data := startRegistryDir(t)
	ref := reg + "/e2e/damaged:v1"
	pusher := newStrata(t)
	pusher.must("build", "-t", "dmg:1", writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN mkdir /d && for i in $(seq 200); do echo line $i > /d/f$i; done && head -c 300000 /dev/urandom > /d/big\n",
	}))
	pusher.must("push", "dmg:1", ref)
	remoteImg := storeRemoteImage(t, ref)
	pushed, err := remoteImg.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := remoteImg.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	n := len(pushed.Layers)
	top, topDiffID := pushed.Layers[n-1].Digest, cf.RootFS.DiffIDs[n-1]
	blob := filepath.Join(data, "docker", "registry", "v2", "blobs", "sha256", top.Hex[:2], top.Hex, "data")
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatalf("reading the pushed blob in the registry's storage: %v", err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}

	s := newStrata(t)
	dirsBefore := storeLayerDirs(t, s)
	r := s.run("pull", ref)
	if r.code == 0 || !strings.Contains(r.stderr, top.String()) || !strings.Contains(r.stderr, "copy is damaged (pull again") {
		t.Fatalf("strata pull of a damaged blob: exit %d, stderr %q; want a failure naming %s, saying its copy is damaged and what to do", r.code, r.stderr, top)
	}
	if r := s.run("inspect", ref); r.code == 0 {
		t.Errorf("the image is in the store after the failed pull")
	}
	if _, err := os.Stat(filepath.Join(s.root, "blobs", "sha256", top.Hex)); err == nil {
		t.Errorf("the damaged blob %s is in the store", top)
	}
	dirs := storeLayerDirs(t, s)
	if len(dirs) > len(dirsBefore)+n-1 {
		t.Errorf("layers/ holds %d dirs after the failed pull, want at most %d", len(dirs), len(dirsBefore)+n-1)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(s.root, "layers", d, "diffid"))
		if err != nil {
			t.Errorf("layers/%s is not a complete layer dir: %v", d, err)
		}
		if string(b) == topDiffID.String() {
			t.Errorf("the damaged layer was extracted into layers/%s", d)
		}
	}
	storeAssertTmpEmpty(t, s)
}
