package cli

import (
	"fmt"
	"strings"

	"github.com/strata-build/strata/internal/store"
)

// imageFilter is docker images' --filter: every key given must match;
// several reference= match when one does, several label= when all do.
type imageFilter struct {
	dangling      *bool
	references    []string
	labels        []string
	before, since *store.Record
}

// parseImageFilters reads --filter values, resolving before= and since=
// in st.
func parseImageFilters(st *store.Store, list []string) (*imageFilter, error) {
	f := &imageFilter{}
	for _, v := range list {
		k, val, ok := strings.Cut(v, "=")
		if !ok || val == "" {
			return nil, fmt.Errorf("--filter %q: want KEY=VALUE (dangling, reference, before, since or label)", v)
		}
		switch k {
		case "dangling":
			b, err := parseBoolWord(val)
			if err != nil {
				return nil, fmt.Errorf("--filter %q: %w", v, err)
			}
			f.dangling = &b
		case "reference":
			f.references = append(f.references, val)
		case "label":
			f.labels = append(f.labels, val)
		case "before", "since":
			_, rec, err := st.Image(val)
			if err != nil {
				return nil, fmt.Errorf("--filter %q: %w", v, err)
			}
			if k == "before" {
				f.before = &rec
			} else {
				f.since = &rec
			}
		default:
			return nil, fmt.Errorf("--filter %q: unknown key %q: use dangling, reference, before, since or label", v, k)
		}
	}
	return f, nil
}

func parseBoolWord(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

// apply keeps the records of recs the filter accepts; a reference filter
// also keeps only the matching names, as the REPOSITORY argument does.
func (f *imageFilter) apply(st *store.Store, recs []store.Record) ([]store.Record, error) {
	var out []store.Record
	for _, r := range recs {
		if f.dangling != nil && (len(tagNames(r)) == 0) != *f.dangling {
			continue
		}
		if f.before != nil && !r.Created.Before(f.before.Created) {
			continue
		}
		if f.since != nil && !r.Created.After(f.since.Created) {
			continue
		}
		if len(f.labels) > 0 {
			ok, err := hasLabels(st, r, f.labels)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, r)
	}
	if len(f.references) > 0 {
		var kept []store.Record
		for _, r := range out {
			var names []string
			for _, ref := range f.references {
				for _, m := range filterImages([]store.Record{r}, ref) {
					names = mergeNames(names, m.Names)
				}
			}
			if len(names) > 0 {
				r.Names = names
				kept = append(kept, r)
			}
		}
		out = kept
	}
	return out, nil
}

// tagNames are the names of r that are not digest names.
func tagNames(r store.Record) []string {
	var out []string
	for _, n := range r.Names {
		if !strings.Contains(n, "@") {
			out = append(out, n)
		}
	}
	return out
}

// hasLabels reports whether the config of r has every label (KEY or
// KEY=VALUE) of want.
func hasLabels(st *store.Store, r store.Record, want []string) (bool, error) {
	img, _, err := st.Image(r.ID.String())
	if err != nil {
		return false, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return false, fmt.Errorf("reading the config of %s: %w", shortID(r.ID.String()), err)
	}
	for _, l := range want {
		k, v, withValue := strings.Cut(l, "=")
		got, ok := cfg.Config.Labels[k]
		if !ok || withValue && got != v {
			return false, nil
		}
	}
	return true, nil
}

func mergeNames(a, b []string) []string {
	have := map[string]bool{}
	for _, n := range a {
		have[n] = true
	}
	for _, n := range b {
		if !have[n] {
			a = append(a, n)
		}
	}
	return a
}
