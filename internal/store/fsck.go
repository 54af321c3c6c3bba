package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/strata-build/strata/internal/layer"
)

// ErrInUse is wrapped by the error Fsck returns when another process holds
// the store (a build, a pull): a check needs the store to itself.
var ErrInUse = errors.New("store: in use by another process")

// Kinds of FsckProblem.
const (
	FsckBlob  = "blob"  // a blob whose content does not match its name
	FsckImage = "image" // an index.json entry whose manifest, config or layers are missing or corrupt
	FsckLayer = "layer" // an extracted layer dir that does not match its diff_id
	FsckCache = "cache" // a cache record that cannot be read or needs a missing blob
	FsckOther = "other" // a file where the layout has none
)

// FsckOptions tells Fsck what to do about what it finds.
type FsckOptions struct {
	// Repair removes what cannot be trusted: corrupt blobs, names of images
	// with a missing or corrupt blob, cache records needing a missing blob,
	// layer dirs that do not match their diff_id (they are extracted again
	// from their blobs when next needed), and leftover temporary files.
	Repair bool
}

// FsckProblem is one inconsistency Fsck found.
type FsckProblem struct {
	Kind     string `json:"kind"`     // FsckBlob, FsckImage, FsckLayer, FsckCache or FsckOther
	Object   string `json:"object"`   // the digest, image name, chain id or cache key
	Detail   string `json:"detail"`   // what is wrong
	Repaired bool   `json:"repaired"` // Repair removed it
}

// FsckReport is what Fsck checked and found.
type FsckReport struct {
	Blobs        int `json:"blobs"`         // blobs whose digest was checked
	Images       int `json:"images"`        // index.json entries followed to their blobs
	Layers       int `json:"layers"`        // layer dirs checked
	CacheRecords int `json:"cache_records"` // cache records read
	// LayersUnverified counts layer dirs no stored blob describes (nothing
	// needs them: GC removes them), so their content could not be checked.
	LayersUnverified int `json:"layers_unverified"`
	// Temp and TempBytes count the leftovers of interrupted processes in
	// tmp/. They are garbage, not damage: they make no problem.
	Temp        int   `json:"temp"`
	TempBytes   int64 `json:"temp_bytes"`
	TempRemoved bool  `json:"temp_removed"`
	// Problems lists every inconsistency, repaired or not.
	Problems []FsckProblem `json:"problems"`
}

// Clean reports whether no problem is left unrepaired.
func (r *FsckReport) Clean() bool {
	for _, p := range r.Problems {
		if !p.Repaired {
			return false
		}
	}
	return true
}

// fsck is the state of one Fsck run.
type fsck struct {
	s    *Store
	opts FsckOptions
	rep  *FsckReport
	mu   sync.Mutex
	good map[string]bool     // hex of blobs present with the right content
	diff map[v1.Hash]v1.Hash // diff_id → a good blob holding that layer
}

func (f *fsck) problem(p FsckProblem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rep.Problems = append(f.rep.Problems, p)
}

// Fsck checks the whole store: every blob against its digest, every
// index.json entry down to its manifest, config and layer blobs, every cache
// record's blobs, and every extracted layer dir against its diff_id. It
// needs the store to itself: when another process holds it, Fsck returns an
// error wrapping ErrInUse.
//
// A layer dir is checked by writing it as a layer tar (layer.WriteTar, the
// deterministic format builds commit with) and hashing that: a layer strata
// built hashes to its diff_id. A layer extracted from a tar written by
// another tool does not, so its blob is extracted again into tmp/ and both
// trees are written and hashed the same way: equal hashes mean equal names,
// types, modes, owners, mtimes, xattrs, link targets and contents.
func (s *Store) Fsck(ctx context.Context, opts FsckOptions) (*FsckReport, error) {
	unlock, err := s.tryLockExclusive()
	if errors.Is(err, errWouldBlock) {
		return nil, fmt.Errorf("checking the store %s: %w", s.root, ErrInUse)
	}
	if err != nil {
		return nil, err
	}
	defer unlock()
	f := &fsck{s: s, opts: opts, rep: &FsckReport{Problems: []FsckProblem{}}, good: map[string]bool{}, diff: map[v1.Hash]v1.Hash{}}
	for _, step := range []func(context.Context) error{f.blobs, f.images, f.cache, f.layers, f.temp} {
		if err := step(ctx); err != nil {
			return f.rep, err
		}
	}
	return f.rep, nil
}

// blobs hashes every blob and removes (on repair) the corrupt ones.
func (f *fsck) blobs(ctx context.Context) error {
	dir := f.s.path("blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing blobs: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if len(e.Name()) != 64 || !isHex(e.Name()) || !e.Type().IsRegular() {
			f.problem(FsckProblem{Kind: FsckOther, Object: p, Detail: "not a blob (name or type)", Repaired: f.remove(p)})
			continue
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			got, err := hashFile(p)
			if err != nil {
				return fmt.Errorf("checking blob %s: %w", e.Name(), err)
			}
			f.mu.Lock()
			f.rep.Blobs++
			f.mu.Unlock()
			if got == e.Name() {
				f.mu.Lock()
				f.good[got] = true
				f.mu.Unlock()
				return nil
			}
			f.problem(FsckProblem{Kind: FsckBlob, Object: "sha256:" + e.Name(),
				Detail: "content hashes to sha256:" + got, Repaired: f.remove(p)})
			return nil
		})
	}
	return g.Wait()
}

// remove deletes p when repairing and reports whether it did.
func (f *fsck) remove(p string) bool {
	if !f.opts.Repair {
		return false
	}
	return os.RemoveAll(p) == nil
}

func hashFile(p string) (string, error) {
	fl, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fl.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fl); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// goodBlob reads a blob that the blob pass found intact.
func (f *fsck) goodBlob(h v1.Hash) ([]byte, error) {
	if h.Algorithm != "sha256" || !f.good[h.Hex] {
		return nil, fmt.Errorf("blob %s is missing or corrupt", h)
	}
	return f.s.readBlob(h)
}

// images follows every index.json entry; on repair the entries of broken
// images are dropped.
func (f *fsck) images(ctx context.Context) error {
	idx, err := f.s.readIndex()
	if err != nil {
		// Nothing names anything: the store cannot be repaired by dropping.
		f.problem(FsckProblem{Kind: FsckOther, Object: "index.json", Detail: err.Error()})
		return nil
	}
	broken := map[int]string{}
	for i, d := range idx.Manifests {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.rep.Images++
		if err := f.descriptor(d, 0); err != nil {
			broken[i] = err.Error()
		}
	}
	if len(broken) == 0 {
		return nil
	}
	repaired := false
	if f.opts.Repair {
		// Drop the broken entries, matched by digest and name: index.json
		// was read under the exclusive lock, so nobody changed it since.
		type key struct{ digest, name string }
		drop := map[key]bool{}
		for i := range broken {
			d := idx.Manifests[i]
			drop[key{d.Digest.String(), d.Annotations[annotRefName]}] = true
		}
		err := f.s.updateIndex(func(cur *v1.IndexManifest) error {
			kept := cur.Manifests[:0]
			for _, d := range cur.Manifests {
				if !drop[key{d.Digest.String(), d.Annotations[annotRefName]}] {
					kept = append(kept, d)
				}
			}
			cur.Manifests = kept
			return nil
		})
		if err != nil {
			return fmt.Errorf("repairing index.json: %w", err)
		}
		repaired = true
	}
	ids := make([]int, 0, len(broken))
	for i := range broken {
		ids = append(ids, i)
	}
	sort.Ints(ids)
	for _, i := range ids {
		d := idx.Manifests[i]
		obj := d.Digest.String()
		if n := d.Annotations[annotRefName]; n != "" {
			obj = FamiliarName(n) + " (" + obj + ")"
		}
		f.problem(FsckProblem{Kind: FsckImage, Object: obj, Detail: broken[i], Repaired: repaired})
	}
	return nil
}

// descriptor checks the manifest or index d and everything it points at,
// and records the diff_id → blob pairs of intact images.
func (f *fsck) descriptor(d v1.Descriptor, depth int) error {
	if depth > 4 {
		return errors.New("indexes nested too deep")
	}
	switch {
	case d.MediaType.IsIndex():
		raw, err := f.goodBlob(d.Digest)
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("index %s: %w", d.Digest, err)
		}
		for _, c := range im.Manifests {
			if err := f.descriptor(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	case d.MediaType.IsImage():
		raw, err := f.goodBlob(d.Digest)
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		rawCfg, err := f.goodBlob(m.Config.Digest)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
		if err != nil {
			return fmt.Errorf("config %s: %w", m.Config.Digest, err)
		}
		if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
			return fmt.Errorf("manifest %s lists %d layers, its config %d diff_ids", d.Digest, len(m.Layers), len(cfg.RootFS.DiffIDs))
		}
		for i, l := range m.Layers {
			if l.Digest.Algorithm != "sha256" || !f.good[l.Digest.Hex] {
				return fmt.Errorf("layer %d: blob %s is missing or corrupt", i+1, l.Digest)
			}
		}
		for i, l := range m.Layers {
			f.diff[cfg.RootFS.DiffIDs[i]] = l.Digest
		}
		return nil
	}
	return nil // other tools' entries are left alone
}

// cache reads every cache record; on repair unreadable ones and those
// needing a missing blob are deleted.
func (f *fsck) cache(ctx context.Context) error {
	dir := f.s.path("cache")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing cache records: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, e.Name())
		key, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !isHex(key) || !e.Type().IsRegular() {
			f.problem(FsckProblem{Kind: FsckOther, Object: p, Detail: "not a cache record (name or type)", Repaired: f.remove(p)})
			continue
		}
		f.rep.CacheRecords++
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading cache record %s: %w", key, err)
		}
		var rec CacheRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			f.problem(FsckProblem{Kind: FsckCache, Object: key, Detail: "unreadable: " + err.Error(), Repaired: f.remove(p)})
			continue
		}
		for _, h := range rec.Blobs {
			if h.Algorithm != "sha256" || !f.good[h.Hex] {
				f.problem(FsckProblem{Kind: FsckCache, Object: key, Detail: fmt.Sprintf("needs blob %s, which is missing or corrupt", h), Repaired: f.remove(p)})
				break
			}
		}
	}
	return nil
}

// layers checks every layer dir against its diff_id.
func (f *fsck) layers(ctx context.Context) error {
	dir := f.s.path("layers")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing layer dirs: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, e := range ents {
		g.Go(func() error {
			detail, err := f.layer(gctx, e.Name())
			if err != nil {
				return fmt.Errorf("checking layer dir %s: %w", e.Name(), err)
			}
			if detail == "" {
				return nil
			}
			p := filepath.Join(dir, e.Name())
			repaired := false
			if f.opts.Repair {
				// Move it out of layers/ first: a half-deleted layer dir
				// must never be found by HasLayerDir.
				tmp, err := os.MkdirTemp(f.s.path("tmp"), "fsck-drop-")
				if err == nil && os.Rename(p, filepath.Join(tmp, "layer")) == nil {
					repaired = os.RemoveAll(tmp) == nil
				} else if err == nil {
					os.Remove(tmp)
				}
			}
			f.problem(FsckProblem{Kind: FsckLayer, Object: e.Name(), Detail: detail, Repaired: repaired})
			return nil
		})
	}
	return g.Wait()
}

// layer checks the layer dir named name and returns what is wrong with it,
// or "". An error means the check itself failed.
func (f *fsck) layer(ctx context.Context, name string) (string, error) {
	if len(name) != 64 || !isHex(name) {
		return "not a layer dir (name)", nil
	}
	dir := f.s.path("layers", name)
	b, err := os.ReadFile(filepath.Join(dir, "diffid"))
	if err != nil {
		return "no readable diffid file", nil
	}
	diffID, err := v1.NewHash(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Sprintf("diffid file: %v", err), nil
	}
	if fi, err := os.Lstat(filepath.Join(dir, "diff")); err != nil || !fi.IsDir() {
		return "no diff directory", nil
	}
	f.mu.Lock()
	f.rep.Layers++
	f.mu.Unlock()
	have, err := treeHash(ctx, filepath.Join(dir, "diff"))
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return fmt.Sprintf("unreadable as a layer: %v", err), nil
	}
	if have == diffID.Hex {
		return "", nil // a layer strata wrote: its tar is its diff_id
	}
	f.mu.Lock()
	blob, ok := f.diff[diffID]
	if !ok && f.good[diffID.Hex] {
		blob, ok = diffID, true // an uncompressed layer blob, named by its diff_id
	}
	f.mu.Unlock()
	if !ok {
		f.mu.Lock()
		f.rep.LayersUnverified++
		f.mu.Unlock()
		return "", nil
	}
	want, err := f.extractedHash(ctx, blob, diffID)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	if want == "" {
		return fmt.Sprintf("blob %s does not uncompress to diff_id %s", blob, diffID), nil
	}
	if have != want {
		return fmt.Sprintf("files differ from layer %s (blob %s)", diffID, blob), nil
	}
	return "", nil
}

// treeHash returns the hex sha256 of the layer tar WriteTar makes of dir.
func treeHash(ctx context.Context, dir string) (string, error) {
	h := sha256.New()
	if _, err := layer.WriteTar(ctx, dir, h, layer.WriteOptions{Format: layer.DiffFormat}); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// extractedHash extracts blob into tmp/ and returns the treeHash of the
// result, or "" when the blob does not uncompress to diffID.
func (f *fsck) extractedHash(ctx context.Context, blob, diffID v1.Hash) (string, error) {
	tmp, err := f.s.TempDir("fsck-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	rc, err := f.s.OpenBlob(blob)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	zr, err := layer.Decompress(rc)
	if err != nil {
		return "", nil
	}
	defer zr.Close()
	h := sha256.New()
	tee := io.TeeReader(zr, h)
	if _, err := layer.Extract(ctx, tee, tmp, extractOptions()); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		// An intact layer that does not extract here (a full disk) says
		// nothing about the layer dir: the check itself failed.
		if _, cerr := io.Copy(io.Discard, tee); cerr == nil && hex.EncodeToString(h.Sum(nil)) == diffID.Hex {
			return "", fmt.Errorf("extracting blob %s to compare: %w", blob, err)
		}
		return "", nil
	}
	// The tar reader stops at the end-of-archive marker: hash the rest
	// (record padding) too.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return "", nil
	}
	if hex.EncodeToString(h.Sum(nil)) != diffID.Hex {
		return "", nil
	}
	return treeHash(ctx, tmp)
}

// temp counts (and on repair removes) what interrupted processes left in
// tmp/: under the exclusive lock no live process owns any of it.
func (f *fsck) temp(ctx context.Context) error {
	ents, err := os.ReadDir(f.s.path("tmp"))
	if err != nil {
		return fmt.Errorf("listing tmp: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := f.s.path("tmp", e.Name())
		f.rep.Temp++
		f.rep.TempBytes += diskUsage(p)
		if f.opts.Repair {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("removing %s: %w", p, err)
			}
		}
	}
	f.rep.TempRemoved = f.opts.Repair && f.rep.Temp > 0
	return nil
}
