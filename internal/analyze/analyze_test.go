package analyze

import (
	"archive/tar"
	"bytes"
	"context"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/layer"
)

// tarOf returns a layer tar of specs: "d/" is a directory, "f=N" a file of
// N random bytes, "f=zN" a file of N zero bytes, "f" an empty file (so
// ".wh.x" and "d/.wh..wh..opq" are whiteouts), "l->t" a symlink, "f<<text"
// a file holding text; "spec@755" gives a file the mode 0755.
func tarOf(t *testing.T, specs ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	rnd := rand.New(rand.NewSource(1))
	for _, s := range specs {
		mode := int64(0o644)
		if name, m, ok := strings.Cut(s, "@"); ok {
			n, err := strconv.ParseInt(m, 8, 64)
			if err != nil {
				t.Fatalf("spec %q: %v", s, err)
			}
			s, mode = name, n
		}
		hdr := &tar.Header{Name: s, Mode: mode, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		var body []byte
		switch {
		case strings.HasSuffix(s, "/"):
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		case strings.Contains(s, "<<"):
			name, text, _ := strings.Cut(s, "<<")
			hdr.Name, hdr.Size, body = name, int64(len(text)), []byte(text)
		case strings.Contains(s, "->"):
			name, target, _ := strings.Cut(s, "->")
			hdr.Name, hdr.Linkname, hdr.Typeflag = name, target, tar.TypeSymlink
		case strings.Contains(s, "="):
			name, n, _ := strings.Cut(s, "=")
			zero := strings.HasPrefix(n, "z")
			size, err := strconv.Atoi(strings.TrimPrefix(n, "z"))
			if err != nil {
				t.Fatalf("spec %q: %v", s, err)
			}
			body = make([]byte, size)
			if !zero {
				rnd.Read(body)
			}
			hdr.Name, hdr.Size = name, int64(size)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// step is one history entry of a test image: a layer of specs, or an empty
// entry when specs is nil.
type step struct {
	createdBy string
	specs     []string
	gzip      bool
}

// imageOf builds an image of steps, uncompressed layers unless gzip is set.
func imageOf(t *testing.T, steps ...step) v1.Image {
	t.Helper()
	img := empty.Image
	var hist []v1.History
	for _, s := range steps {
		hist = append(hist, v1.History{CreatedBy: s.createdBy, EmptyLayer: s.specs == nil})
		if s.specs == nil {
			continue
		}
		data := tarOf(t, s.specs...)
		mt := types.OCIUncompressedLayer
		if s.gzip {
			var z bytes.Buffer
			zw, err := layer.Compress(&z, layer.Gzip, 0)
			if err != nil {
				t.Fatal(err)
			}
			zw.Write(data)
			zw.Close()
			data, mt = z.Bytes(), types.OCILayer
		}
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(data, mt)})
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.History = hist
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func analyzeOf(t *testing.T, opts Options, steps ...step) *Report {
	t.Helper()
	rep, err := Analyze(context.Background(), imageOf(t, steps...), opts)
	if err != nil {
		t.Fatalf("Analyze: %v", err)
	}
	return rep
}

// layerFigures are the per-layer numbers a test checks.
type layerFigures struct {
	Added, Changed, Removed int
	Wasted, Hidden          int64
}

func figures(rep *Report) []layerFigures {
	var out []layerFigures
	for _, r := range rep.Rows {
		if r.Layer >= 0 {
			out = append(out, layerFigures{r.Added, r.Changed, r.Removed, r.Wasted, r.Hidden})
		}
	}
	return out
}

func TestWaste(t *testing.T) {
	tests := []struct {
		name       string
		steps      []step
		wantLayers []layerFigures
		wantWasted int64
		wantEff    float64
	}{
		{
			name: "whiteout",
			steps: []step{
				{specs: []string{"big=5000", "keep=5000"}},
				{specs: []string{".wh.big"}},
			},
			wantLayers: []layerFigures{{Added: 2, Wasted: 5000}, {Removed: 1, Hidden: 5000}},
			wantWasted: 5000,
			wantEff:    0.5,
		},
		{
			name: "whiteout of a directory",
			steps: []step{
				{specs: []string{"a/", "a/b/", "a/b/c=70", "a/b/d=30"}},
				{specs: []string{".wh.a"}},
			},
			wantLayers: []layerFigures{{Added: 2, Wasted: 100}, {Removed: 2, Hidden: 100}},
			wantWasted: 100,
			wantEff:    0,
		},
		{
			name: "opaque directory",
			steps: []step{
				{specs: []string{"d/", "d/a=100", "d/b=200", "e=700"}},
				{specs: []string{"d/", "d/.wh..wh..opq", "d/c=50"}},
			},
			wantLayers: []layerFigures{{Added: 3, Wasted: 300}, {Added: 1, Removed: 2, Hidden: 300}},
			wantWasted: 300,
			wantEff:    1 - 300.0/1050,
		},
		{
			name: "overwrite",
			steps: []step{
				{specs: []string{"f=100", "g=100"}},
				{specs: []string{"f=300"}},
				{specs: []string{"f=200"}},
			},
			wantLayers: []layerFigures{{Added: 2, Wasted: 100}, {Changed: 1, Wasted: 300, Hidden: 100}, {Changed: 1, Hidden: 300}},
			wantWasted: 400,
			wantEff:    1 - 400.0/700,
		},
		{
			name: "directory replaced by a file",
			steps: []step{
				{specs: []string{"x/", "x/y=10", "x/z=10"}},
				{specs: []string{"x=5"}},
			},
			wantLayers: []layerFigures{{Added: 2, Wasted: 20}, {Added: 1, Removed: 2, Hidden: 20}},
			wantWasted: 20,
			wantEff:    1 - 20.0/25,
		},
		{
			name: "whiteout of a path no layer wrote",
			steps: []step{
				{specs: []string{"a=10"}},
				{specs: []string{".wh.nothing", "b=10"}},
			},
			wantLayers: []layerFigures{{Added: 1}, {Added: 1}},
			wantWasted: 0,
			wantEff:    1,
		},
		{
			name: "new directory metadata keeps the children",
			steps: []step{
				{specs: []string{"d/", "d/a=10"}},
				{specs: []string{"d/", "d/b=10"}},
			},
			wantLayers: []layerFigures{{Added: 1}, {Added: 1}},
			wantEff:    1,
		},
		{
			name: "whiteout then re-add in one layer",
			steps: []step{
				{specs: []string{"d/", "d/a=10"}},
				{specs: []string{".wh.d", "d/", "d/b=10"}},
			},
			wantLayers: []layerFigures{{Added: 1, Wasted: 10}, {Added: 1, Removed: 1, Hidden: 10}},
			wantWasted: 10,
			wantEff:    1 - 10.0/20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyzeOf(t, Options{}, tt.steps...)
			if diff := cmp.Diff(figures(rep), tt.wantLayers); diff != "" {
				t.Errorf("layers (-got +want):\n%s", diff)
			}
			if rep.Wasted != tt.wantWasted {
				t.Errorf("Wasted = %d, want %d", rep.Wasted, tt.wantWasted)
			}
			if d := rep.Efficiency - tt.wantEff; d > 1e-9 || d < -1e-9 {
				t.Errorf("Efficiency = %v, want %v", rep.Efficiency, tt.wantEff)
			}
		})
	}
}

func TestRows(t *testing.T) {
	rep := analyzeOf(t, Options{},
		step{createdBy: "", specs: []string{"bin/", "bin/sh=z200000"}, gzip: true},
		step{createdBy: "ENV A=1", specs: nil},
		step{createdBy: "RUN /bin/sh -c dd if=/dev/zero of=/z bs=1k count=100 # buildkit", specs: []string{"z=z100000"}},
		step{createdBy: "COPY . / # buildkit", specs: []string{"r=5000"}},
	)
	type row struct {
		Layer       int
		Instruction string
		ImageSize   int64
	}
	var got []row
	for _, r := range rep.Rows {
		got = append(got, row{r.Layer, r.Instruction, r.ImageSize})
	}
	s0, s2, s3 := rep.Rows[0].Size, rep.Rows[2].Size, rep.Rows[3].Size
	want := []row{
		{0, "", s0},
		{-1, "ENV A=1", s0},
		{1, "RUN dd if=/dev/zero of=/z bs=1k count=100", s0 + s2},
		{2, "COPY . /", s0 + s2 + s3},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("rows (-got +want):\n%s", diff)
	}
	if rep.Rows[1].Size != 0 || rep.Rows[1].CompressedSize != 0 || rep.Rows[1].DiffID != "" {
		t.Errorf("empty row = %+v, want no size", rep.Rows[1])
	}
	// Tar sizes are whole 512-byte blocks with the end-of-archive blocks.
	for _, r := range rep.Rows {
		if r.Layer >= 0 && (r.Size%512 != 0 || r.Size < 1024) {
			t.Errorf("layer %d: Size = %d, want a tar size", r.Layer, r.Size)
		}
	}
	// Zeros compress well, random bytes do not.
	if c := rep.Rows[2].CompressedSize; c <= 0 || c > s2/10 {
		t.Errorf("zeros layer: CompressedSize = %d of %d, want a gzip size", c, s2)
	}
	if c := rep.Rows[3].CompressedSize; c < 5000 {
		t.Errorf("random layer: CompressedSize = %d, want at least the 5000 random bytes", c)
	}
	// A layer stored gzipped reports its blob size.
	layers, _ := imageOf(t, step{specs: []string{"bin/", "bin/sh=z200000"}, gzip: true}).Layers()
	blob, _ := layers[0].Size()
	if rep.Rows[0].CompressedSize != blob {
		t.Errorf("gzip layer: CompressedSize = %d, want the blob size %d", rep.Rows[0].CompressedSize, blob)
	}
	if rep.Size != s0+s2+s3 || rep.Layers != 3 {
		t.Errorf("Size, Layers = %d, %d, want %d, 3", rep.Size, rep.Layers, s0+s2+s3)
	}
}

func TestLargest(t *testing.T) {
	rep := analyzeOf(t, Options{Top: 3},
		step{specs: []string{"usr/", "usr/lib/", "usr/lib/a=3000", "usr/lib/b=2000", "usr/bin/", "usr/bin/c=1000", "etc/", "etc/d=500", "l->usr/lib/a"}},
		step{specs: []string{"usr/", "usr/bin/", "usr/bin/e=4000"}},
	)
	wantFiles := []PathSize{{"/usr/bin/e", 4000, 1}, {"/usr/lib/a", 3000, 0}, {"/usr/lib/b", 2000, 0}}
	if diff := cmp.Diff(rep.LargestFiles, wantFiles); diff != "" {
		t.Errorf("LargestFiles (-got +want):\n%s", diff)
	}
	wantDirs := []PathSize{{"/usr", 10000, 0}, {"/usr/bin", 5000, 1}, {"/usr/lib", 5000, 0}}
	if diff := cmp.Diff(rep.LargestDirs, wantDirs); diff != "" {
		t.Errorf("LargestDirs (-got +want):\n%s", diff)
	}
	if rep.FinalBytes != 10500 || rep.Tree.Size != 10500 || rep.Tree.Children[0].Name != "usr" {
		t.Errorf("FinalBytes %d, tree %+v, want 10500 with usr first", rep.FinalBytes, rep.Tree)
	}
}

func kinds(fs []Finding) []Kind {
	var out []Kind
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return out
}

func TestFindings(t *testing.T) {
	df, err := dockerfile.Parse("Dockerfile", []byte(`FROM base
RUN make
RUN rm -rf /src
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		opts  Options
		steps []step
		want  Finding
	}{
		{
			name: "deleted later, with lines",
			opts: Options{Dockerfile: df},
			steps: []step{
				{createdBy: "base", specs: []string{"bin/", "bin/sh=1000"}},
				{createdBy: "RUN /bin/sh -c make # buildkit", specs: []string{"src/", "src/a.o=30000", "src/b.o=20000", "app=1000"}},
				{createdBy: "RUN /bin/sh -c rm -rf /src # buildkit", specs: []string{".wh.src"}},
			},
			want: Finding{
				Kind: DeletedLater, Layer: 2, Instruction: "RUN rm -rf /src", Line: 3, Bytes: 50000,
				Sources: []Source{{Layer: 1, Line: 2, Bytes: 50000}},
				Paths:   []string{"/src"},
				Message: "RUN rm -rf /src saves nothing: the 50kB it deletes were added by layer 1 (Dockerfile:2)",
				Fix:     "delete in the same RUN that created them, or copy only what you need in a multi-stage build; or build with --squash",
			},
		},
		{
			name: "apt-get purge",
			steps: []step{
				{createdBy: "RUN /bin/sh -c apt-get install -y gcc", specs: []string{"usr/", "usr/x=20000"}},
				{createdBy: "RUN /bin/sh -c apt-get purge -y gcc", specs: []string{"usr/", "usr/.wh.x"}},
			},
			want: Finding{
				Kind: DeletedLater, Layer: 1, Instruction: "RUN apt-get purge -y gcc", Bytes: 20000,
				Sources: []Source{{Layer: 0, Bytes: 20000}},
				Paths:   []string{"/usr/x"},
				Message: "RUN apt-get purge -y gcc saves nothing: the 20kB it deletes were added by layer 0",
				Fix:     "remove the packages in the RUN that installed them (install, use and purge in one RUN), or install them only in a build stage of a multi-stage build",
			},
		},
		{
			name: "apt lists",
			steps: []step{
				{createdBy: "RUN /bin/sh -c apt-get update", specs: []string{"var/", "var/lib/", "var/lib/apt/", "var/lib/apt/lists/", "var/lib/apt/lists/lock", "var/lib/apt/lists/deb_Packages=40000"}},
			},
			want: Finding{
				Kind: PackageCache, Layer: 0, Instruction: "RUN apt-get update", Bytes: 40000,
				Paths:   []string{"/var/lib/apt/lists"},
				Message: "apt package lists left in the image: 40kB in /var/lib/apt/lists",
				Fix:     caches[0].fix,
			},
		},
		{
			name: "pip cache in a home",
			steps: []step{
				{createdBy: "RUN /bin/sh -c pip install x", specs: []string{"home/", "home/u/", "home/u/.cache/", "home/u/.cache/pip/", "home/u/.cache/pip/w=15000"}},
			},
			want: Finding{
				Kind: PackageCache, Layer: 0, Instruction: "RUN pip install x", Bytes: 15000,
				Paths:   []string{"/home/u/.cache/pip"},
				Message: "pip cache left in the image: 15kB in /home/u/.cache/pip",
				Fix:     caches[3].fix,
			},
		},
		{
			name: "build tools",
			steps: []step{
				{createdBy: "RUN /bin/sh -c apt-get install -y build-essential", specs: []string{
					"usr/", "usr/bin/", "usr/bin/gcc-12=20000", "usr/bin/true=99999",
					"usr/lib/", "usr/lib/gcc/", "usr/lib/gcc/x86_64-linux-gnu/", "usr/lib/gcc/x86_64-linux-gnu/12/", "usr/lib/gcc/x86_64-linux-gnu/12/cc1=30000",
					"usr/include/", "usr/include/stdio.h=5000"}},
			},
			want: Finding{
				Kind: BuildTools, Layer: 0, Instruction: "RUN apt-get install -y build-essential", Bytes: 55000,
				Paths:   []string{"/usr/lib/gcc", "/usr/bin/gcc-12", "/usr/include"},
				Message: "the final image holds build tools (gcc, cc1, headers (/usr/include)): 55kB in /usr/lib/gcc, /usr/bin/gcc-12, /usr/include",
				Fix:     "build in a separate stage and COPY --from it only what runs (multi-stage build); the final stage needs no compiler",
			},
		},
		{
			name: "chmod rewrites",
			steps: []step{
				{createdBy: "COPY app / # buildkit", specs: []string{"app=25000"}},
				{createdBy: "RUN /bin/sh -c chmod +x /app # buildkit", specs: []string{"app=25000@755"}},
			},
			want: Finding{
				Kind: CopyUp, Layer: 1, Instruction: "RUN chmod +x /app", Bytes: 25000,
				Sources: []Source{{Layer: 0, Bytes: 25000}},
				Paths:   []string{"/app"},
				Message: "RUN chmod +x /app copies 1 file of layer 0 whole into its layer with the same content (1 with a new mode): 25kB are in the image twice",
				Fix:     "set the mode and owner where the files are copied, layer 0 (COPY app /), with --chmod and --chown (e.g. `COPY --chmod=755 --chown=app:app ...`), and drop the chmod/chown from this RUN; or build with --squash",
			},
		},
		{
			name: "layer count",
			opts: Options{MaxLayers: 2},
			steps: []step{
				{specs: []string{"a"}}, {specs: []string{"b"}}, {specs: []string{"c"}},
			},
			want: Finding{
				Kind: LayerCount, Layer: -1,
				Message: "the image has 3 layers: overlayfs fails to mount near 125 and every layer slows pulls and mounts",
				Fix:     "merge consecutive RUN instructions with &&, build with --squash, or copy the result of a build stage in one COPY",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := analyzeOf(t, tt.opts, tt.steps...)
			if len(rep.Findings) != 1 {
				t.Fatalf("findings %v, want one %s", kinds(rep.Findings), tt.want.Kind)
			}
			if diff := cmp.Diff(rep.Findings[0], tt.want); diff != "" {
				t.Errorf("finding (-got +want):\n%s", diff)
			}
		})
	}
}

func TestFindingsBelowMinBytes(t *testing.T) {
	rep := analyzeOf(t, Options{},
		step{specs: []string{"var/", "var/cache/", "var/cache/apk/", "var/cache/apk/x=100", "f=200"}},
		step{specs: []string{".wh.f"}},
	)
	if len(rep.Findings) != 0 {
		t.Errorf("findings %v, want none under 10kB", kinds(rep.Findings))
	}
	if rep.Wasted != 200 {
		t.Errorf("Wasted = %d, want 200 (counted even when too small to report)", rep.Wasted)
	}
}

func TestInstruction(t *testing.T) {
	tests := []struct{ in, want string }{
		{"RUN /bin/sh -c make hello # buildkit", "RUN make hello"},
		{"RUN |2 A=1 B=2 /bin/sh -c make # buildkit", "RUN make"},
		{"|1 V=3 /bin/sh -c make", "RUN make"},
		{"/bin/sh -c apt-get update", "RUN apt-get update"},
		{"/bin/sh -c #(nop)  CMD [\"/hello\"]", "CMD [\"/hello\"]"},
		{"/bin/sh -c #(nop) COPY file:abc in / ", "COPY file:abc in /"},
		{"COPY hello.c / # buildkit", "COPY hello.c /"},
		{"WORKDIR /app", "WORKDIR /app"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Instruction(tt.in); got != tt.want {
				t.Errorf("Instruction(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMatchLines(t *testing.T) {
	df, err := dockerfile.Parse("Dockerfile", []byte(`FROM debian AS build
RUN apt-get update
ARG X
RUN make

FROM build AS test
ENV A=1
COPY a /a
CMD ["/a"]
`))
	if err != nil {
		t.Fatal(err)
	}
	rows := []Row{
		{Instruction: "RUN base thing"},
		{Instruction: "RUN apt-get update"},
		{Instruction: "RUN make"},
		{Instruction: "ENV A=1"},
		{Instruction: "COPY a /a"},
		{Instruction: `CMD ["/a"]`},
	}
	tests := []struct {
		target string
		rows   []Row
		want   []int
	}{
		{"", rows, []int{0, 2, 4, 7, 8, 9}},
		{"build", rows[:3], []int{0, 2, 4}},
		{"0", rows[:3], []int{0, 2, 4}},
		{"nosuch", rows[:3], []int{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rows := append([]Row(nil), tt.rows...)
			matchLines(rows, df, tt.target)
			var got []int
			for _, r := range rows {
				got = append(got, r.Line)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("lines (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	rep := &Report{Wasted: 5_000_000, Efficiency: 0.8, Size: 50_000_000, Layers: 3, Dockerfile: "Dockerfile", Packages: []Package{
		{Name: "gcc-12", Version: "12.2", Manager: "dpkg", Bytes: 30_000_000, Layer: 1, Line: 4},
		{Name: "bash", Version: "5", Manager: "dpkg", Bytes: 1_000_000, Layer: 0},
	}}
	tests := []struct {
		name string
		th   Thresholds
		want []string
	}{
		{"no limits", Thresholds{MaxWasted: -1}, []string{}},
		{"within", Thresholds{MaxWasted: 20_000_000, MinEfficiency: 0.5}, []string{}},
		{"wasted", Thresholds{MaxWasted: 1_000_000}, []string{"wasted bytes 5MB (5000000) exceed --max-wasted 1MB (1000000)"}},
		{"both", Thresholds{MaxWasted: 0, MinEfficiency: 0.9}, []string{
			"wasted bytes 5MB (5000000) exceed --max-wasted 0B (0)",
			"efficiency 0.8000 is below --min-efficiency 0.9",
		}},
		{"efficiency below the size floor", Thresholds{MaxWasted: -1, MinEfficiency: 0.9, MinEfficiencyAbove: 100_000_000}, []string{}},
		{"efficiency above the size floor", Thresholds{MaxWasted: -1, MinEfficiency: 0.9, MinEfficiencyAbove: 20_000_000}, []string{
			"efficiency 0.8000 is below --min-efficiency 0.9 (applied as the image's 50MB is at least --min-efficiency-above 20MB)",
		}},
		{"size, layers, packages", Thresholds{MaxWasted: -1, MaxSize: 40_000_000, MaxLayers: 2, DenyPackages: []string{"gcc*", "nosuch"}}, []string{
			"image size 50MB (50000000) exceeds --max-size 40MB (40000000)",
			"3 layers exceed --max-layers 2",
			"package gcc-12 12.2 (dpkg, 30MB, installed by layer 1 (Dockerfile:4)) is denied by --deny-package \"gcc*\"",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rep.Check(tt.th)
			if diff := cmp.Diff(got.Reasons, tt.want); diff != "" {
				t.Errorf("reasons (-got +want):\n%s", diff)
			}
			if got.Pass != (len(tt.want) == 0) {
				t.Errorf("Pass = %v with reasons %v", got.Pass, got.Reasons)
			}
		})
	}
}

func TestParseCIConfig(t *testing.T) {
	tests := []struct {
		name, file string
		want       Thresholds
		wantErr    string
	}{
		{"all", "max-wasted: 20MB\nmin-efficiency: 0.9\nmin-efficiency-above: 100MB\nmax-size: 500MB\nmax-layers: 30\ndeny-packages: [gcc*, build-essential]\n",
			Thresholds{MaxWasted: 20_000_000, MinEfficiency: 0.9, MinEfficiencyAbove: 100_000_000, MaxSize: 500_000_000, MaxLayers: 30, DenyPackages: []string{"gcc*", "build-essential"}}, ""},
		{"empty", "", NoThresholds(), ""},
		{"misspelt key", "max-waste: 1MB\n", Thresholds{}, ".strata-ci.yaml: yaml: unmarshal errors"},
		{"bad size", "max-size: big\n", Thresholds{}, `.strata-ci.yaml: max-size "big"`},
		{"bad ratio", "min-efficiency: 2\n", Thresholds{}, ".strata-ci.yaml: min-efficiency 2"},
		{"bad pattern", "deny-packages: ['[']\n", Thresholds{}, `.strata-ci.yaml: deny-packages "["`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCIConfig(".strata-ci.yaml", []byte(tt.file))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCIConfig error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCIConfig: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("thresholds (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLargestDirsSkipChains(t *testing.T) {
	rep := analyzeOf(t, Options{},
		step{specs: []string{"opt/", "opt/a/", "opt/a/b/", "opt/a/b/c=800", "opt/a/b/d=100", "etc/", "etc/e=50", "etc/f/", "etc/f/g=10"}},
	)
	var got []string
	for _, d := range rep.LargestDirs {
		got = append(got, d.Path)
	}
	// /opt and /opt/a hold nothing but /opt/a/b: listing them says nothing.
	if diff := cmp.Diff(got, []string{"/opt/a/b", "/etc", "/etc/f"}); diff != "" {
		t.Errorf("LargestDirs (-got +want):\n%s", diff)
	}
}
