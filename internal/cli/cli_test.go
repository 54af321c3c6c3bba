package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-build/strata/internal/layer"
	strataregistry "github.com/strata-build/strata/internal/registry"
	"github.com/strata-build/strata/internal/store"
)

// testImage returns a random image of two layers with a metadata-only
// history entry on top, a Cmd-less config and a fixed creation time.
func testImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config.Env = []string{"PATH=/bin"}
	cf.History = append(cf.History, v1.History{
		CreatedBy:  `ENV PATH=/bin # a long instruction that docker would truncate`,
		EmptyLayer: true,
		Created:    cf.Created,
	})
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// newStore makes a store in a temporary directory holding img under names.
func newStore(t *testing.T, img v1.Image, names ...string) (string, store.Record) {
	t.Helper()
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if img == nil {
		return root, store.Record{}
	}
	rec, err := st.WriteImage(context.Background(), img, names...)
	if err != nil {
		t.Fatal(err)
	}
	return root, rec
}

// strata runs the command line against the store at root and returns its
// stdout.
func strata(t *testing.T, root string, stdin []byte, args ...string) (string, error) {
	t.Helper()
	cmd := NewRoot()
	cmd.SetArgs(append([]string{"--root", root}, args...))
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetIn(bytes.NewReader(stdin))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func mustStrata(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := strata(t, root, nil, args...)
	if err != nil {
		t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func TestFormatHumanSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0B"},
		{999, "999B"},
		{1000, "1kB"},
		{2_150_000, "2.15MB"},
		{4_261_234, "4.26MB"},
		{72_800_000, "72.8MB"},
		{1_230_000_000, "1.23GB"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := humanSize(tc.n); got != tc.want {
				t.Errorf("humanSize(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

func TestFormatHumanSince(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{0, "Less than a second ago"},
		{30 * time.Second, "30 seconds ago"},
		{70 * time.Second, "About a minute ago"},
		{5 * time.Minute, "5 minutes ago"},
		{3 * 24 * time.Hour, "3 days ago"},
		{15 * 24 * time.Hour, "2 weeks ago"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := humanSince(now.Add(-tc.ago), now); got != tc.want {
				t.Errorf("humanSince(-%v) = %q, want %q", tc.ago, got, tc.want)
			}
		})
	}
}

func TestFormatEllipsis(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 45, "short"},
		{strings.Repeat("a", 45), 45, strings.Repeat("a", 45)},
		{strings.Repeat("a", 46), 45, strings.Repeat("a", 44) + "…"},
		{"héllo wörld", 6, "héllo…"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := ellipsis(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("ellipsis(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func TestFormatRender(t *testing.T) {
	type row struct{ A, B string }
	l := listing{
		defaultTable: "table {{.A}}\t{{.B}}",
		headers:      map[string]string{"A": "COLUMN A", "B": "B"},
	}
	rows := []any{row{"x", "<none>"}, row{"longer value", "y"}}
	for _, tc := range []struct {
		name, format, want string
	}{
		{"default", "", "COLUMN A       B\nx              <none>\nlonger value   y\n"},
		{"table", "table {{.B}}", "B\n<none>\ny\n"},
		{"template", `{{.A}}\t{{.B}}`, "x\t<none>\nlonger value\ty\n"},
		{"json", "{{json .}}", `{"A":"x","B":"<none>"}` + "\n" + `{"A":"longer value","B":"y"}` + "\n"},
		{"json keyword", "json", `{"A":"x","B":"<none>"}` + "\n" + `{"A":"longer value","B":"y"}` + "\n"},
		{"funcs", `{{upper .A | printf "%s"}} {{join (split .A " ") "-"}}`, "X x\nLONGER VALUE longer-value\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := l.render(&buf, tc.format, rows); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(buf.String(), tc.want); diff != "" {
				t.Errorf("render (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("bad template", func(t *testing.T) {
		if err := l.render(&bytes.Buffer{}, "{{.A", rows); err == nil {
			t.Error("render of a broken template succeeded")
		}
	})
}

func TestImages(t *testing.T) {
	img := testImage(t)
	root, rec := newStore(t, img, "test/img:1", "other:latest")
	id := rec.ID.Hex[:12]
	size := humanSize(rec.Size)

	t.Run("table", func(t *testing.T) {
		got := mustStrata(t, root, "images")
		re := regexp.MustCompile(`(?m)^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\n` +
			`other +latest +` + id + ` +\d+ \w+ ago +` + regexp.QuoteMeta(size) + `\n` +
			`test/img +1 +` + id + ` +\d+ \w+ ago +` + regexp.QuoteMeta(size) + `\n$`)
		if !re.MatchString(got) {
			t.Errorf("images printed:\n%s", got)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"format", []string{"--format", "{{.Repository}}:{{.Tag}}"}, "other:latest\ntest/img:1\n"},
		{"filter", []string{"--format", "{{.Repository}}:{{.Tag}}", "test/img"}, "test/img:1\n"},
		{"filter tag", []string{"--format", "{{.Repository}}:{{.Tag}}", "test/img:2"}, ""},
		{"filter pattern", []string{"--format", "{{.Repository}}", "test/*"}, "test/img\n"},
		{"quiet", []string{"-q"}, id + "\n" + id + "\n"},
		{"no-trunc", []string{"-q", "--no-trunc", "other"}, rec.ID.String() + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustStrata(t, root, append([]string{"images"}, tc.args...)...)
			if got != tc.want {
				t.Errorf("images %v = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
	t.Run("json fields", func(t *testing.T) {
		got := mustStrata(t, root, "images", "--format", "{{json .}}", "other")
		var m map[string]any
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatalf("%v: %s", err, got)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		want := []string{"Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"}
		if diff := cmp.Diff(keys, want, cmpSorted); diff != "" {
			t.Errorf("fields (-got +want):\n%s", diff)
		}
		if m["ID"] != id || m["Size"] != size || m["Digest"] != "<none>" {
			t.Errorf("row = %v", m)
		}
	})
	t.Run("--json", func(t *testing.T) {
		var got []imageSummary
		if err := json.Unmarshal([]byte(mustStrata(t, root, "images", "--json")), &got); err != nil {
			t.Fatal(err)
		}
		want := []imageSummary{{
			ID: rec.ID.String(), RepoTags: []string{"other:latest", "test/img:1"}, RepoDigests: []string{},
			Created: rec.Created.Unix(), Size: rec.Size, VirtualSize: rec.Size, SharedSize: -1, Containers: -1,
			Manifest: rec.Manifest.String(), Names: []string{"docker.io/library/other:latest", "docker.io/test/img:1"},
		}}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("images --json (-got +want):\n%s", diff)
		}
	})
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestHistory(t *testing.T) {
	img := testImage(t)
	root, rec := newStore(t, img, "test/img:1")
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var sizes []string
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		n, err := layer.ContentSize(rc) // docker's size: the content's bytes
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, humanSize(n))
	}

	t.Run("json lines", func(t *testing.T) {
		got := mustStrata(t, root, "history", "--no-trunc", "--format", "{{json .}}", "test/img:1")
		var rows []historyRow
		for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
			var r historyRow
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			r.CreatedAt, r.CreatedSince = "", ""
			rows = append(rows, r)
		}
		want := []historyRow{
			{ID: rec.ID.String(), CreatedBy: "ENV PATH=/bin # a long instruction that docker would truncate", EmptyLayer: true, Size: "0B"},
			{ID: "<missing>", CreatedBy: "random", Comment: "this is a random history 1 of 2", Size: sizes[1]},
			{ID: "<missing>", CreatedBy: "random", Comment: "this is a random history 0 of 2", Size: sizes[0]},
		}
		if diff := cmp.Diff(rows, want); diff != "" {
			t.Errorf("history (-got +want):\n%s", diff)
		}
	})
	t.Run("table", func(t *testing.T) {
		got := mustStrata(t, root, "history", "test/img:1")
		lines := strings.Split(got, "\n")
		if !regexp.MustCompile(`^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$`).MatchString(lines[0]) {
			t.Errorf("header %q", lines[0])
		}
		if !strings.HasPrefix(lines[1], rec.ID.Hex[:12]+" ") || !strings.Contains(lines[1], "ENV PATH=/bin # a long instruction that dock… ") {
			t.Errorf("first row %q", lines[1])
		}
		if !strings.HasPrefix(lines[2], "<missing> ") {
			t.Errorf("second row %q", lines[2])
		}
	})
	t.Run("raw sizes", func(t *testing.T) {
		got := mustStrata(t, root, "history", "-H=false", "--format", "{{.Size}}", "test/img:1")
		if !regexp.MustCompile(`^0\n\d+\n\d+\n$`).MatchString(got) {
			t.Errorf("history -H=false = %q", got)
		}
	})
	t.Run("--json", func(t *testing.T) {
		var got []historyEntry
		if err := json.Unmarshal([]byte(mustStrata(t, root, "history", "--json", "test/img:1")), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].ID != rec.ID.String() || !got[0].EmptyLayer || got[1].Size == 0 ||
			cmp.Diff(got[0].Tags, []string{"test/img:1"}) != "" {
			t.Errorf("history --json = %+v", got)
		}
	})
}

func TestInspect(t *testing.T) {
	img := testImage(t)
	root, rec := newStore(t, img, "test/img:1")
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	out := mustStrata(t, root, "inspect", "test/img:1")
	var got []struct {
		ID          string `json:"Id"`
		RepoTags    []string
		RepoDigests []string
		Created     string
		Size        int64
		Os          string
		Config      struct {
			Cmd []string
			Env []string
		}
		RootFS struct {
			Type   string
			Layers []string
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("inspect printed %d images", len(got))
	}
	var layers []string
	for _, d := range cf.RootFS.DiffIDs {
		layers = append(layers, d.String())
	}
	g := got[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"Id", g.ID, rec.ID.String()},
		{"RepoTags", g.RepoTags, []string{"test/img:1"}},
		{"RepoDigests", g.RepoDigests, []string{}},
		{"Created", g.Created, "2024-01-02T03:04:05Z"},
		{"Size", g.Size, rec.Size},
		{"Os", g.Os, "linux"},
		{"RootFS.Type", g.RootFS.Type, "layers"},
		{"RootFS.Layers", g.RootFS.Layers, layers},
		{"Config.Cmd", g.Config.Cmd, []string(nil)},
		{"Config.Env", g.Config.Env, []string{"PATH=/bin"}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.got, c.want); diff != "" {
			t.Errorf("%s (-got +want):\n%s", c.name, diff)
		}
	}
	for _, s := range []string{`"Cmd": null`, `"Entrypoint": null`, `"Hostname": ""`, `"GraphDriver": {`, `"LastTagTime": "0001-01-01T00:00:00Z"`} {
		if !strings.Contains(out, s) {
			t.Errorf("inspect output lacks %s:\n%s", s, out)
		}
	}
	if strings.Contains(out, `"Variant"`) {
		t.Errorf("inspect printed an empty Variant")
	}

	t.Run("format", func(t *testing.T) {
		got := mustStrata(t, root, "inspect", "--format", "{{.Id}} {{json .Config.Env}} {{.Os}}", "test/img:1", rec.ID.Hex[:8])
		want := rec.ID.String() + ` ["PATH=/bin"] linux` + "\n"
		if got != want+want {
			t.Errorf("inspect --format = %q, want %q twice", got, want)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := strata(t, root, nil, "inspect", "nosuch")
		if err == nil || err.Error() != "no such image: nosuch:latest" {
			t.Errorf("inspect nosuch: %v", err)
		}
	})
}

func TestTagRmi(t *testing.T) {
	root, rec := newStore(t, testImage(t), "test/img:1")
	mustStrata(t, root, "tag", "test/img:1", "127.0.0.1:5000/copy:2")
	got := mustStrata(t, root, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	id := rec.ID.Hex[:12]
	want := "127.0.0.1:5000/copy:2 " + id + "\ntest/img:1 " + id + "\n"
	if got != want {
		t.Errorf("images after tag = %q, want %q", got, want)
	}

	t.Run("rmi by ID needs force", func(t *testing.T) {
		if _, err := strata(t, root, nil, "rmi", id); err == nil || !strings.Contains(err.Error(), "must be forced") {
			t.Errorf("rmi %s: %v", id, err)
		}
	})
	t.Run("rmi one name", func(t *testing.T) {
		got := mustStrata(t, root, "rmi", "127.0.0.1:5000/copy:2")
		if got != "Untagged: 127.0.0.1:5000/copy:2\n" {
			t.Errorf("rmi = %q", got)
		}
	})
	t.Run("rmi unknown and last", func(t *testing.T) {
		cmd := NewRoot()
		cmd.SetArgs([]string{"--root", root, "rmi", "nosuch", "test/img:1"})
		var out, errb bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		err := cmd.Execute()
		if ee, ok := err.(*exitError); !ok || ee.code != 1 {
			t.Errorf("rmi returned %v, want exit status 1", err)
		}
		if got, want := errb.String(), "strata: no such image: nosuch:latest\n"; got != want {
			t.Errorf("stderr = %q, want %q", got, want)
		}
		if got, want := out.String(), "Untagged: test/img:1\nDeleted: "+rec.ID.String()+"\n"; got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
		if got := mustStrata(t, root, "images", "-q"); got != "" {
			t.Errorf("images after rmi = %q", got)
		}
	})
}

func TestSaveLoad(t *testing.T) {
	root, rec := newStore(t, testImage(t), "test/img:1", "test/img:2", "other:3")
	dir := t.TempDir()
	for _, tc := range []struct {
		name, format string
		args         []string
		stdin        bool
		want         string
	}{
		{"docker", "docker", []string{"test/img:1"}, false, "Loaded image: test/img:1\n"},
		{"repository", "docker", []string{"test/img"}, false, "Loaded image: test/img:1\nLoaded image: test/img:2\n"},
		{"by ID", "docker", []string{rec.ID.Hex[:12]}, true, "Loaded image ID: " + rec.ID.String() + "\n"},
		{"oci", "oci", []string{"other:3", "test/img:2"}, true, "Loaded image: other:3\nLoaded image: test/img:2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tarPath := filepath.Join(dir, tc.name+".tar")
			mustStrata(t, root, append([]string{"save", "--format", tc.format, "-o", tarPath}, tc.args...)...)
			root2, _ := newStore(t, nil)
			var got string
			if tc.stdin {
				data, err := os.ReadFile(tarPath)
				if err != nil {
					t.Fatal(err)
				}
				if got, err = strata(t, root2, data, "load"); err != nil {
					t.Fatal(err)
				}
			} else {
				got = mustStrata(t, root2, "load", "-q", "-i", tarPath)
			}
			if got != tc.want {
				t.Errorf("load printed %q, want %q", got, tc.want)
			}
			ids := mustStrata(t, root2, "images", "-q", "--no-trunc")
			if ids != "" && strings.TrimSpace(strings.Split(ids, "\n")[0]) != rec.ID.String() {
				t.Errorf("loaded image IDs %q, want %s", ids, rec.ID)
			}
			// Every image is readable again: its history reads every layer.
			ref := rec.ID.String()
			if _, err := strata(t, root2, nil, "history", ref); err != nil && !strings.Contains(tc.want, "Loaded image ID") {
				t.Errorf("history of the loaded image: %v", err)
			}
		})
	}
	t.Run("stdout", func(t *testing.T) {
		out, err := strata(t, root, nil, "save", "other:3")
		if err != nil {
			t.Fatal(err)
		}
		root2, _ := newStore(t, nil)
		got, err := strata(t, root2, []byte(out), "load")
		if err != nil {
			t.Fatal(err)
		}
		if got != "Loaded image: other:3\n" {
			t.Errorf("load = %q", got)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if _, err := strata(t, root, nil, "save", "-o", filepath.Join(dir, "x.tar"), "nosuch:1"); err == nil {
			t.Error("save of an unknown image succeeded")
		}
		if _, err := os.Stat(filepath.Join(dir, "x.tar")); err == nil {
			t.Error("a failed save left its file")
		}
	})
}

func TestPullPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img := testImage(t)
	root, rec := newStore(t, img, "test/img:1")
	dest := host + "/team/img:v1"

	got := mustStrata(t, root, "push", "test/img:1", dest)
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := "The push refers to repository [" + host + "/team/img]\n"
	for i := len(cfg.RootFS.DiffIDs) - 1; i >= 0; i-- {
		want += cfg.RootFS.DiffIDs[i].Hex[:12] + ": Pushed\n"
	}
	want += "v1: digest: " + dg.String() + " size: " + strconv.Itoa(len(raw)) + "\n"
	if got != want {
		t.Errorf("push printed %q, want %q", got, want)
	}

	t.Run("push own name", func(t *testing.T) {
		mustStrata(t, root, "tag", "test/img:1", host+"/team/img:v2")
		got := mustStrata(t, root, "push", "--compression", "zstd", host+"/team/img:v2")
		if !strings.HasSuffix(got, "v2: digest: "+dg.String()+" size: "+strconv.Itoa(len(raw))+"\n") {
			t.Errorf("push printed %q", got)
		}
	})
	t.Run("push an ID needs a destination", func(t *testing.T) {
		if _, err := strata(t, root, nil, "push", rec.ID.Hex[:12]); err == nil || !strings.Contains(err.Error(), "give the destination") {
			t.Errorf("push by ID: %v", err)
		}
	})
	t.Run("pull", func(t *testing.T) {
		root2, _ := newStore(t, nil)
		got := mustStrata(t, root2, "pull", dest)
		var want strings.Builder
		want.WriteString("v1: Pulling from team/img\n")
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range m.Layers {
			want.WriteString(l.Digest.Hex[:12] + ": Pull complete\n")
		}
		want.WriteString("Digest: " + dg.String() + "\nStatus: Downloaded newer image for " + dest + "\n" + dest + "\n")
		if diff := cmp.Diff(got, want.String()); diff != "" {
			t.Errorf("pull (-got +want):\n%s", diff)
		}
		if ids := mustStrata(t, root2, "images", "-q", "--no-trunc"); ids != rec.ID.String()+"\n" {
			t.Errorf("pulled image IDs %q, want %s", ids, rec.ID)
		}
		var ii []inspectImage
		if err := json.Unmarshal([]byte(mustStrata(t, root2, "inspect", dest)), &ii); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ii[0].RepoDigests, []string{host + "/team/img@" + dg.String()}); diff != "" {
			t.Errorf("RepoDigests after a pull by tag (-got +want):\n%s", diff)
		}
		if got, want := mustStrata(t, root2, "images", "--digests", "--format", "{{.Tag}} {{.Digest}}"), "v1 "+dg.String()+"\n"; got != want {
			t.Errorf("images --digests = %q, want %q", got, want)
		}
		again := mustStrata(t, root2, "pull", dest)
		if !strings.Contains(again, "Status: Image is up to date for "+dest+"\n") || !strings.Contains(again, ": Already exists\n") {
			t.Errorf("second pull printed %q", again)
		}
		quiet := mustStrata(t, root2, "pull", "-q", host+"/team/img:v2")
		if quiet != host+"/team/img:v2\n" {
			t.Errorf("pull -q printed %q", quiet)
		}
	})
	t.Run("pull by digest", func(t *testing.T) {
		root2, _ := newStore(t, nil)
		ref := host + "/team/img@" + dg.String()
		got := mustStrata(t, root2, "pull", "-q", ref)
		if got != ref+"\n" {
			t.Errorf("pull -q printed %q", got)
		}
		var ii []inspectImage
		if err := json.Unmarshal([]byte(mustStrata(t, root2, "inspect", ref)), &ii); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ii[0].RepoDigests, []string{ref}); diff != "" {
			t.Errorf("RepoDigests (-got +want):\n%s", diff)
		}
		if got := mustStrata(t, root2, "images", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"); got != host+"/team/img <none> "+dg.String()+"\n" {
			t.Errorf("images = %q", got)
		}
	})
	t.Run("registry.Puller", func(t *testing.T) {
		root2, _ := newStore(t, nil)
		st, err := store.Open(root2)
		if err != nil {
			t.Fatal(err)
		}
		p := &strataregistry.Puller{Dst: st}
		if err := p.Pull(context.Background(), dest); err != nil {
			t.Fatal(err)
		}
		if _, got, err := st.Image(dest); err != nil || got.ID != rec.ID {
			t.Errorf("Image(%s) = %v, %v; want ID %s", dest, got.ID, err, rec.ID)
		}
	})
	t.Run("pull unknown", func(t *testing.T) {
		root2, _ := newStore(t, nil)
		if _, err := strata(t, root2, nil, "pull", host+"/team/nosuch:1"); err == nil || !strings.Contains(err.Error(), "manifest unknown") {
			t.Errorf("pull of a missing image: %v", err)
		}
	})
}

// TestBuildRefusesBadFlagsFirst checks that a bad -t, --build-arg or
// --target stops the build before any step runs, with one error that names
// the flag and says the reference once.
func TestBuildRefusesBadFlagsFirst(t *testing.T) {
	ctxDir := t.TempDir()
	df := "FROM scratch\nLABEL a=b\nFROM scratch AS other\nLABEL b=c\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"upper case tag", []string{"-t", "ok:1", "-t", "Bad/Name:1"}, `-t, --tag: invalid image reference "Bad/Name:1": repository name must be lowercase`},
		{"two colons", []string{"-t", "a:b:c"}, `-t, --tag: invalid image reference "a:b:c": more than one ':'`},
		{"bad tag", []string{"-t", "x:-1"}, `invalid tag -1`},
		{"empty build arg", []string{"--build-arg", "=v"}, `--build-arg: "=v": want KEY=VALUE`},
		{"unknown target", []string{"--target", "nope"}, `nope`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			cmd := NewRoot()
			cmd.SetArgs(append([]string{"--root", root, "build", "--progress", "plain"}, append(tc.args, ctxDir)...))
			var out, errb bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&errb)
			err := cmd.ExecuteContext(context.Background())
			if err == nil {
				t.Fatal("got no error, want one")
			}
			if got := errb.String(); strings.Contains(got, "#1") {
				t.Errorf("a step ran before the error:\n%s", got)
			}
			got := err.Error()
			if !strings.Contains(got, tc.want) {
				t.Errorf("got error %q, want it to contain %q", got, tc.want)
			}
			for _, a := range tc.args {
				if !strings.HasPrefix(a, "-") && strings.Count(got, a) > 1 {
					t.Errorf("got error %q, which says %q more than once", got, a)
				}
			}
			if strings.Contains(got, "store:") {
				t.Errorf("got error %q, with a package prefix", got)
			}
		})
	}
}

// TestBuildProgressJSON checks that --progress json writes nothing but JSON
// objects, durations in milliseconds, and ends with one result event (the
// image ID and tags) or one build error event.
func TestBuildProgressJSON(t *testing.T) {
	for _, tc := range []struct {
		name       string
		dockerfile string
		args       []string
		wantStatus string
	}{
		{"success", "FROM scratch\nLABEL a=b\n", []string{"-t", "app:1"}, "result"},
		{"bad Dockerfile", "FROM scratch\nNOSUCH x\n", []string{"-t", "app:1"}, "error"},
		{"bad tag", "FROM scratch\nLABEL a=b\n", []string{"-t", "App:1"}, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctxDir := t.TempDir()
			if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(tc.dockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			var out, errb bytes.Buffer
			code := Execute(context.Background(), append(append([]string{"--root", root, "build", "--progress", "json"}, tc.args...), ctxDir), strings.NewReader(""), &out, &errb)
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
			var last map[string]any
			ends := 0
			for _, l := range strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n") {
				var ev map[string]any
				if err := json.Unmarshal([]byte(l), &ev); err != nil {
					t.Fatalf("line %q is not a JSON object: %v\n%s", l, err, errb.String())
				}
				if _, ok := ev["elapsed"]; ok {
					t.Errorf("line %q has elapsed, want elapsed_ms", l)
				}
				if ev["status"] == "done" {
					if _, ok := ev["elapsed_ms"].(float64); !ok {
						t.Errorf("done event %q lacks elapsed_ms", l)
					}
				}
				if ev["status"] == "result" || (ev["status"] == "error" && ev["id"] == nil) {
					ends++
				}
				last = ev
			}
			if ends != 1 || last["status"] != tc.wantStatus {
				t.Fatalf("got %d end events, the last line %v; want one, a %s:\n%s", ends, last, tc.wantStatus, errb.String())
			}
			if tc.wantStatus == "error" {
				if code != 1 || last["error"] == "" {
					t.Errorf("got exit %d and error %v, want 1 and a message", code, last["error"])
				}
				return
			}
			if code != 0 {
				t.Fatalf("got exit %d, want 0", code)
			}
			id := strings.TrimSpace(mustStrata(t, root, "images", "-q", "--no-trunc"))
			if got, want := last["image_id"], id; got != want {
				t.Errorf("got image_id %v, want %v", got, want)
			}
			if got, want := fmt.Sprint(last["tags"]), "[docker.io/library/app:1]"; got != want {
				t.Errorf("got tags %s, want %s", got, want)
			}
		})
	}
}

// TestDockerHabits checks flags a docker user types that strata accepts:
// build --rm and --force-rm (no-ops, as in BuildKit) and --version.
func TestDockerHabits(t *testing.T) {
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\nLABEL a=b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"build --rm", []string{"build", "--rm", "-q", ctxDir}, "sha256:"},
		{"build --force-rm", []string{"build", "--force-rm", "--rm=false", "-q", ctxDir}, "sha256:"},
		{"--version", []string{"--version"}, "strata dev\n"},
		{"version", []string{"version"}, "strata dev\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustStrata(t, t.TempDir(), tc.args...)
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want it to start with %q", got, tc.want)
			}
		})
	}
}

// TestRunRefusesWhatItLacks checks that each docker run flag or flag value
// strata does not implement is refused with what it is and why, never
// ignored.
func TestRunRefusesWhatItLacks(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-d"}, "-d, --detach is not supported"},
		{[]string{"--network", "none", "-p", "8080:80"}, "-p is not supported with --network none"},
		{[]string{"-v", "data:/x"}, `-v "data:/x": named volumes are not supported`},
		{[]string{"-v", "/tmp:/x:z"}, `-v "/tmp:/x:z": option "z" is not supported: use ro or rw`},
		{[]string{"--mount", "type=volume,dst=/x"}, `--mount "type=volume,dst=/x": type=volume is not supported`},
		{[]string{"--mount", "type=bind,src=/nonexistent-strata,dst=/x"}, "bind source path does not exist: /nonexistent-strata"},
		{[]string{"--mount", "type=bind,src=/tmp,dst=/x,bind-propagation=shared"}, `key "bind-propagation" is not supported`},
		{[]string{"--tmpfs", "run"}, `--tmpfs "run": the target must be an absolute path`},
		{[]string{"-e", "=x"}, `-e "=x": want KEY=VALUE or KEY`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := strata(t, t.TempDir(), nil, append(append([]string{"run"}, tc.args...), "busybox", "true")...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRunEnv checks -e KEY and --env-file as docker run reads them.
func TestRunEnv(t *testing.T) {
	t.Setenv("STRATA_T_HOST", "fromhost")
	file := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(file, []byte("# a comment\nA=1\n\n  STRATA_T_HOST\nSTRATA_T_UNSET\nB=x=y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := runEnv([]string{file}, []string{"STRATA_T_HOST", "C=3", "STRATA_T_UNSET"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=1", "STRATA_T_HOST=fromhost", "B=x=y", "STRATA_T_HOST=fromhost", "C=3"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("env (-got +want):\n%s", diff)
	}
}
