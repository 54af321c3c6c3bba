package squash

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/store"
)

// Base is the image of a store that another image is built on.
type Base struct {
	// Layers is the number of layers of the base.
	Layers int
	// Name is the base's familiar name, or its short ID when it has none.
	Name string
}

// FindBase returns the image of st that img is built on: of the stored
// images whose diff_ids are a proper prefix of img's, the one with the most
// layers. ok is false when no stored image is such a prefix.
func FindBase(st *store.Store, img v1.Image) (base Base, ok bool, err error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return Base{}, false, fmt.Errorf("reading the image config: %w", err)
	}
	diffIDs := cfg.RootFS.DiffIDs
	recs, err := st.Images()
	if err != nil {
		return Base{}, false, err
	}
	for _, r := range recs {
		cand, _, err := st.Image(r.ID.String())
		if err != nil {
			return Base{}, false, fmt.Errorf("reading image %s: %w", r.ID, err)
		}
		cc, err := cand.ConfigFile()
		if err != nil {
			return Base{}, false, fmt.Errorf("reading the config of %s: %w", r.ID, err)
		}
		cd := cc.RootFS.DiffIDs
		if len(cd) == 0 || len(cd) >= len(diffIDs) || len(cd) <= base.Layers || !isPrefix(cd, diffIDs) {
			continue
		}
		base = Base{Layers: len(cd), Name: recordName(r)}
		ok = true
	}
	return base, ok, nil
}

func isPrefix(prefix, all []v1.Hash) bool {
	for i, h := range prefix {
		if all[i] != h {
			return false
		}
	}
	return true
}

func recordName(r store.Record) string {
	if len(r.Names) > 0 {
		return store.FamiliarName(r.Names[0])
	}
	return r.ID.Hex[:12]
}

// ErrNoBase is returned by Keep when no stored image is a base of the image.
var ErrNoBase = errors.New("squash: no image of the store is a base of the image")

// KeepOptions say which layers a squash keeps; with neither set, the layers of
// the image's base in the store (FindBase).
type KeepOptions struct {
	// All merges every layer (export/import semantics).
	All bool
	// From, when set, keeps layers 0..*From-1.
	From *int
}

// Keep returns how many of img's bottom layers a squash keeps, and the base
// it keeps when opts left the choice to FindBase (nil otherwise).
func Keep(st *store.Store, img v1.Image, opts KeepOptions) (int, *Base, error) {
	switch {
	case opts.All:
		return 0, nil, nil
	case opts.From != nil:
		if *opts.From < 0 {
			return 0, nil, fmt.Errorf("squash: cannot keep %d layers: give a layer index from 0", *opts.From)
		}
		return *opts.From, nil, nil
	}
	base, ok, err := FindBase(st, img)
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, ErrNoBase
	}
	return base.Layers, &base, nil
}
