package cli

import (
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/store"
)

type imagesFlags struct {
	digests bool
	all     bool
	format  string
	json    bool
	noTrunc bool
	quiet   bool
	shared  bool
	filters []string
}

// imageRow is one line of `strata images`, with the fields docker's
// --format offers (in the order `{{json .}}` prints them).
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

// imageSummary is one element of `strata images --json`: the record of an
// image in the shape of docker's /images/json API.
type imageSummary struct {
	ID          string `json:"Id"`
	ParentID    string `json:"ParentId"`
	RepoTags    []string
	RepoDigests []string
	Created     int64
	Size        int64
	VirtualSize int64
	SharedSize  int64
	Containers  int64
	Manifest    string
	Names       []string
}

var imagesListing = listing{
	defaultTable: "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
	headers: map[string]string{
		"Containers":   "CONTAINERS",
		"CreatedAt":    "CREATED AT",
		"CreatedSince": "CREATED",
		"Digest":       "DIGEST",
		"ID":           "IMAGE ID",
		"Repository":   "REPOSITORY",
		"SharedSize":   "SHARED SIZE",
		"Size":         "SIZE",
		"Tag":          "TAG",
		"UniqueSize":   "UNIQUE SIZE",
		"VirtualSize":  "VIRTUAL SIZE",
	},
}

func newImagesCmd(g *globals) *cobra.Command {
	f := &imagesFlags{}
	cmd := &cobra.Command{
		Use:   "images [flags] [REPOSITORY[:TAG]]",
		Short: "List the images in the store",
		Example: `  strata images
  strata images busybox
  strata images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
  strata images -q
  strata images --filter dangling=true -q
  strata images --filter reference='busy*' --filter since=busybox`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore()
			if err != nil {
				return err
			}
			recs, err := st.Images()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				recs = filterImages(recs, args[0])
			}
			if len(f.filters) > 0 {
				filter, err := parseImageFilters(st, f.filters)
				if err != nil {
					return err
				}
				if recs, err = filter.apply(st, recs); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if f.shared {
				return renderShared(out, st, recs, f)
			}
			if f.json {
				sums := make([]imageSummary, 0, len(recs))
				for _, r := range recs {
					sums = append(sums, summarize(r))
				}
				return writeJSON(out, sums)
			}
			format := f.format
			if format == "" && f.digests {
				format = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			if f.quiet {
				format = "{{.ID}}"
			}
			rows := imageRows(recs, !f.noTrunc, time.Now())
			return imagesListing.render(out, format, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.all, "all", "a", false, "show all images (strata keeps no intermediate images, so this changes nothing)")
	fl.BoolVar(&f.digests, "digests", false, "show the manifest digests the images were pulled at")
	fl.StringVar(&f.format, "format", "", "Go template for each image, 'table TEMPLATE' for columns, or 'json'")
	fl.BoolVar(&f.json, "json", false, "print a JSON array of the image records")
	fl.BoolVar(&f.noTrunc, "no-trunc", false, "show full image IDs")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only image IDs")
	fl.StringArrayVarP(&f.filters, "filter", "f", nil, "keep the images that match: dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE]")
	fl.BoolVar(&f.shared, "shared", false, "add SHARED SIZE (in layers other images use too) and UNIQUE SIZE columns")
	return cmd
}

// filterImages keeps the names of recs that match pattern, docker's
// REPOSITORY[:TAG] argument (shell patterns allowed), and the records that
// keep a name.
func filterImages(recs []store.Record, pattern string) []store.Record {
	var out []store.Record
	for _, r := range recs {
		var names []string
		repos := map[string]bool{}
		for _, n := range r.Names {
			if nameMatches(n, pattern) {
				names = append(names, n)
				repo, _ := store.RepoTag(n)
				repos[repo] = true
			}
		}
		// A matching tag keeps its repository's digest names, for --digests.
		for _, n := range r.Names {
			if repo, _ := store.RepoTag(n); strings.Contains(n, "@") && repos[repo] && !nameMatches(n, pattern) {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			r.Names = names
			out = append(out, r)
		}
	}
	return out
}

// nameMatches reports whether the normalised name full matches pattern, in
// its familiar or full spelling, with its tag when pattern has one.
func nameMatches(full, pattern string) bool {
	repo, tag := store.RepoTag(full)
	fullRepo := strings.TrimSuffix(strings.TrimSuffix(full, ":"+tag), "@")
	if i := strings.IndexByte(fullRepo, '@'); i >= 0 {
		fullRepo = fullRepo[:i]
	}
	wantTag := ""
	if i := strings.LastIndexByte(pattern, ':'); i >= 0 && !strings.Contains(pattern[i:], "/") {
		pattern, wantTag = pattern[:i], pattern[i+1:]
	}
	if wantTag != "" {
		if ok, _ := path.Match(wantTag, tag); !ok {
			return false
		}
	}
	for _, cand := range []string{repo, fullRepo} {
		if ok, _ := path.Match(pattern, cand); ok {
			return true
		}
	}
	return false
}

// imageRows makes the rows of recs: one per tag, one per repository for an
// image named by digest only, and a <none> <none> row for an image without
// names.
func imageRows(recs []store.Record, trunc bool, now time.Time) []any {
	var rows []any
	for _, r := range recs {
		base := imageRow{
			Containers:   "N/A",
			CreatedAt:    time.Unix(r.Created.Unix(), 0).String(),
			CreatedSince: humanSince(r.Created, now),
			Digest:       "<none>",
			ID:           r.ID.String(),
			Repository:   "<none>",
			SharedSize:   "N/A",
			Size:         humanSize(r.Size),
			Tag:          "<none>",
			UniqueSize:   "N/A",
			VirtualSize:  humanSize(r.Size),
		}
		if trunc {
			base.ID = shortID(base.ID)
		}
		digests := map[string]string{} // repository → manifest digest from a digest name
		var tags []string
		for _, n := range r.Names {
			if i := strings.IndexByte(n, '@'); i >= 0 {
				repo, _ := store.RepoTag(n)
				digests[repo] = n[i+1:]
				continue
			}
			tags = append(tags, n)
		}
		if len(tags) == 0 && len(digests) == 0 {
			rows = append(rows, base)
			continue
		}
		seen := map[string]bool{}
		for _, n := range tags {
			row := base
			row.Repository, row.Tag = store.RepoTag(n)
			if d, ok := digests[row.Repository]; ok {
				row.Digest = d
			}
			seen[row.Repository] = true
			rows = append(rows, row)
		}
		for _, n := range r.Names {
			repo, _ := store.RepoTag(n)
			if !strings.Contains(n, "@") || seen[repo] {
				continue
			}
			seen[repo] = true
			row := base
			row.Repository, row.Digest = repo, digests[repo]
			rows = append(rows, row)
		}
	}
	return rows
}

// summarize returns the --json record of r.
func summarize(r store.Record) imageSummary {
	s := imageSummary{
		ID:          r.ID.String(),
		RepoTags:    []string{},
		RepoDigests: []string{},
		Created:     r.Created.Unix(),
		Size:        r.Size,
		VirtualSize: r.Size,
		SharedSize:  -1,
		Containers:  -1,
		Manifest:    r.Manifest.String(),
		Names:       r.Names,
	}
	if s.Names == nil {
		s.Names = []string{}
	}
	for _, n := range r.Names {
		if strings.Contains(n, "@") {
			s.RepoDigests = append(s.RepoDigests, store.FamiliarName(n))
		} else {
			s.RepoTags = append(s.RepoTags, store.FamiliarName(n))
		}
	}
	return s
}
