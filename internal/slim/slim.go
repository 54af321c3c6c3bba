package slim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/snapshot"
	"github.com/strata-build/strata/internal/squash"
	"github.com/strata-build/strata/internal/store"
)

// Label is the image label in which a slimmed image records what was done
// (JSON: the original digest, the probes, the file counts).
const Label = "org.strata-build.slim"

// Options tell Image what to run and what to keep besides.
type Options struct {
	// Ref names the image in messages, the history and the label.
	Ref string
	// Probes are the runs traced and then verified; none means one run of
	// the image's own command.
	Probes []Probe
	// Include are absolute paths kept with everything under them.
	Include []string
	// IncludeBin are absolute paths of executables kept with what they
	// need to run (interpreter, shared libraries).
	IncludeBin []string
	// KeepShell keeps /bin/sh and what it needs.
	KeepShell bool
	// KeepBase keeps the layers of the image's base (the image of the store
	// with the most layers that it is built on) as they are, shared, and
	// slims only the files of the layers above them.
	KeepBase bool
	// Timeout bounds each probe run; zero means one minute.
	Timeout time.Duration
	// Snapshotter chooses how the probes' root filesystems are made.
	Snapshotter snapshot.Kind
}

// Result is a slimmed image, stored as blobs but not named yet.
type Result struct {
	// Image is the slimmed image; its blob is in the store.
	Image v1.Image
	// From is the original image's digest.
	From v1.Hash
	// Base is the base kept with KeepBase.
	Base *squash.Base
	// Before and After count the files of the original and of the result
	// (with KeepBase, those of the layers above the base).
	Before, After Stats
	// RemovedDirs are the directories the most bytes were removed from,
	// largest first.
	RemovedDirs []RemovedDir
	// Packages counts Debian packages, when the image has dpkg's database.
	Packages *Packages
	// Kept and Removed are every path kept and removed, directories too.
	Kept, Removed []string
	// Probes are the probes' outcomes, on the original and on the result
	// (they are the same, or Image fails).
	Probes []Outcome
	// Missing are shared libraries that kept ELF files need and the image
	// lacks (the originals could not load them either).
	Missing []string
}

// Image slims img, an image of st: it runs each probe traced in the
// sandbox, keeps what they used and what that needs, writes the rest of
// the files away into one layer on scratch with img's config, runs the
// probes again on the result, and fails with a *DiffError when one of them
// answers otherwise; the Result comes with that error, for review, and its
// Image must not be named. The caller names Result.Image with
// st.WriteImage, and holds st.RLock until then.
func Image(ctx context.Context, st *store.Store, img v1.Image, opts Options) (*Result, error) {
	if len(opts.Probes) == 0 {
		opts.Probes = []Probe{{}}
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	parts, err := store.ReadImageParts(img)
	if err != nil {
		return nil, fmt.Errorf("slim: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("slim: %w", err)
	}
	res := &Result{From: digest}
	var used []string
	for i, p := range opts.Probes {
		o, paths, err := run(ctx, st, img, opts, i)
		if err != nil {
			return nil, err
		}
		if o.HTTP != nil && o.HTTP.Error != "" {
			return nil, fmt.Errorf("slim: probe %d (%s) on the original image: %s; output: %s", i+1, p, o.HTTP.Error, tail(o.Stderr))
		}
		res.Probes = append(res.Probes, Outcome{Probe: p.String(), Original: o})
		used = append(used, paths...)
	}
	tmp, err := st.TempDir("slim-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	full, diff, err := flatten(ctx, st, img, tmp, opts.KeepBase)
	if err != nil {
		return nil, err
	}
	from := 0
	if opts.KeepBase {
		b, err := keptBase(st, img)
		if err != nil {
			return nil, err
		}
		res.Base, from = b, b.Layers
	}
	k := newKeeper(full)
	if err := keepAll(k, &parts.Config.Config, used, opts); err != nil {
		return nil, fmt.Errorf("slim: %w", err)
	}
	pr, err := k.prune(diff)
	if err != nil {
		return nil, fmt.Errorf("slim: %w", err)
	}
	res.Before, res.After, res.RemovedDirs, res.Packages = pr.before, pr.after, pr.dirs, pr.packages
	res.Kept, res.Removed, res.Missing = pr.kept, pr.removed, k.missing
	if res.Image, err = newImage(ctx, st, img, parts, diff, from, res, opts); err != nil {
		return nil, err
	}
	for i := range opts.Probes {
		o, _, err := run(ctx, st, res.Image, opts, i)
		if err != nil {
			return nil, fmt.Errorf("slim: verifying the slimmed image: %w", err)
		}
		res.Probes[i].Slim = o
		if err := compare(i, res.Probes[i]); err != nil {
			return res, err
		}
	}
	return res, nil
}

// flatten merges the layers of img into tmp/full, as the image's files.
// With keepBase, it also merges the layers above the image's base into
// tmp/diff, in overlay format; without, diff is full.
func flatten(ctx context.Context, st *store.Store, img v1.Image, tmp string, keepBase bool) (full, diff string, err error) {
	dirs, err := st.LayerDirs(ctx, img)
	if err != nil {
		return "", "", fmt.Errorf("slim: extracting the layers: %w", err)
	}
	paths := make([]string, len(dirs))
	for i, d := range dirs {
		paths[i] = d.Path
	}
	full = filepath.Join(tmp, "full")
	if err := merge(ctx, full, nil, paths); err != nil {
		return "", "", err
	}
	if !keepBase {
		return full, full, nil
	}
	base, err := keptBase(st, img)
	if err != nil {
		return "", "", err
	}
	diff = filepath.Join(tmp, "diff")
	if err := merge(ctx, diff, paths[:base.Layers], paths[base.Layers:]); err != nil {
		return "", "", err
	}
	return full, diff, nil
}

// keptBase returns the base image whose layers --keep-base keeps: the
// image of the store with the most layers that img is built on.
func keptBase(st *store.Store, img v1.Image) (*squash.Base, error) {
	base, ok, err := squash.FindBase(st, img)
	if err != nil {
		return nil, fmt.Errorf("slim: finding the base image: %w", err)
	}
	if !ok {
		return nil, errors.New("slim: --keep-base: no image of the store is a base of this one: import or pull its base first, or slim it whole")
	}
	return &base, nil
}

// merge merges the layer dirs upper, over lower, into the new dir dst.
func merge(ctx context.Context, dst string, lower, upper []string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return fmt.Errorf("slim: %w", err)
	}
	if _, err := squash.Merge(ctx, dst, squash.MergeOptions{Lower: lower, Upper: upper}); err != nil {
		return fmt.Errorf("slim: merging the layers: %w", err)
	}
	return nil
}

// alwaysKept returns the files kept whatever the probes did: the user and
// group databases and the name service switch, which a program may read
// only on paths the probes did not take.
func alwaysKept() []string { return []string{"/etc/passwd", "/etc/group", "/etc/nsswitch.conf"} }

// keepAll tells the keeper everything that stays: what the probes used
// (but the sandbox's own /proc, /sys and /dev), the files always kept, the
// working directory, the declared volumes, and the options' paths.
func keepAll(k *keeper, cfg *v1.Config, used []string, opts Options) error {
	for _, p := range used {
		if under(p, "/proc") || under(p, "/sys") || under(p, "/dev") {
			continue
		}
		if err := k.add(p); err != nil {
			return err
		}
	}
	fixed := alwaysKept()
	if cfg.WorkingDir != "" {
		fixed = append(fixed, cfg.WorkingDir)
	}
	for v := range cfg.Volumes {
		fixed = append(fixed, v)
	}
	if opts.KeepShell {
		fixed = append(fixed, "/bin/sh")
	}
	for _, p := range fixed {
		if err := k.add(p); err != nil {
			return err
		}
	}
	for _, p := range opts.Include {
		if err := mustExist(k, "--include", p); err != nil {
			return err
		}
		if err := k.addTree(p); err != nil {
			return err
		}
	}
	for _, p := range opts.IncludeBin {
		if err := mustExist(k, "--include-bin", p); err != nil {
			return err
		}
		if err := k.add(p); err != nil {
			return err
		}
	}
	return nil
}

func mustExist(k *keeper, flag, p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("%s %s: give an absolute path inside the image", flag, p)
	}
	if _, ok, err := k.resolve(p, false, 0); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%s %s: the image has no such path", flag, p)
		}
		return err
	}
	return nil
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// newImage writes diff as the one layer of a new image over the first
// from layers of img, with img's config, whose history and label say what
// was done.
func newImage(ctx context.Context, st *store.Store, img v1.Image, parts *store.ImageParts, diff string, from int, res *Result, opts Options) (v1.Image, error) {
	h, size, err := st.WriteLayerBlob(ctx, diff, layer.WriteOptions{Format: layer.DiffFormat}, nil)
	if err != nil {
		return nil, fmt.Errorf("slim: %w", err)
	}
	cfg := parts.Config
	diffIDs := append(append([]v1.Hash(nil), cfg.RootFS.DiffIDs[:from]...), h)
	chains := store.ChainIDs(diffIDs)
	// Its files are hard links into layer dirs that may not be synced yet.
	if _, err := st.AddUnsyncedLayerDir(chains[len(chains)-1], h, diff); err != nil {
		return nil, fmt.Errorf("slim: keeping the layer's files: %w", err)
	}
	nc := cfg.DeepCopy()
	nc.RootFS.DiffIDs = diffIDs
	if nc.History, err = squash.History(cfg.History, from, len(cfg.RootFS.DiffIDs), false); err != nil {
		return nil, fmt.Errorf("slim: %w", err)
	}
	var probes []string
	for _, p := range res.Probes {
		probes = append(probes, p.Probe)
	}
	note, err := json.Marshal(struct {
		From   string   `json:"from"`
		Probes []string `json:"probes"`
		Before Stats    `json:"before"`
		After  Stats    `json:"after"`
	}{res.From.String(), probes, res.Before, res.After})
	if err != nil {
		return nil, fmt.Errorf("slim: %w", err)
	}
	if nc.Config.Labels == nil {
		nc.Config.Labels = map[string]string{}
	}
	nc.Config.Labels[Label] = string(note)
	// An image without history over a kept base gets none: nothing would
	// say which layers are the base's. The label says what was done.
	if len(cfg.History) > 0 || from == 0 {
		nc.History = append(nc.History, v1.History{
			Created:   v1.Time{Time: time.Now().UTC()},
			CreatedBy: fmt.Sprintf("strata slim %s (%s)", opts.Ref, strings.Join(probes, ", ")),
			Comment: fmt.Sprintf("slimmed from %s: kept %d of %d files, %d of %d bytes", res.From,
				res.After.Files, res.Before.Files, res.After.Bytes, res.Before.Bytes),
		})
	}
	descs := append(append([]v1.Descriptor(nil), parts.Manifest.Layers[:from]...),
		v1.Descriptor{MediaType: types.OCIUncompressedLayer, Size: size, Digest: h})
	// The kept layers read from the original image when the store lacks them.
	return st.NewImage(nc, descs, store.NewImageOptions{
		Missing: func(h v1.Hash) (partial.CompressedLayer, error) { return img.LayerByDigest(h) },
	})
}
