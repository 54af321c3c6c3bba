package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/analyze"
	"github.com/strata-build/strata/internal/dockerfile"
	"github.com/strata-build/strata/internal/layer"
	"github.com/strata-build/strata/internal/store"
)

type analyzeFlags struct {
	dockerfile    string
	target        string
	json          bool
	html          string
	maxWasted     string
	minEfficiency float64
	noTrunc       bool
	noCompressed  bool
	ciConfig      string
	effAbove      string
	maxSize       string
	maxLayers     int
	denyPackages  []string
}

func newAnalyzeCmd(g *globals) *cobra.Command {
	f := &analyzeFlags{}
	cmd := &cobra.Command{
		Use:   "analyze [flags] IMAGE",
		Short: "Show where the bytes of an image went and how to get rid of them",
		Long: `analyze reads every layer of an image and prints one row per history entry
(layer size, image size so far, compressed size, files added, changed and
removed, wasted bytes), the wasted bytes and efficiency of the image, its
largest files and directories, and findings with their fix.

Wasted bytes are bytes a layer holds that a later layer deletes or overwrites:
they are pulled with the image but never seen. With --max-wasted or
--min-efficiency (only above --min-efficiency-above), --max-size,
--max-layers, --deny-package or a --ci-config file holding the same gates,
analyze prints one line per broken gate and exits with status 1, for CI.`,
		Example: `  strata analyze hello:single
  strata analyze --dockerfile examples/hello/Dockerfile hello:single
  strata analyze --max-wasted 20MB --min-efficiency 0.9 app:ci
  strata analyze --ci-config .strata-ci.yaml --deny-package 'gcc*' app:ci
  strata analyze --html report.html --json hello:single > report.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAnalyze(cmd, g, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dockerfile, "dockerfile", "", "the Dockerfile the image was built from, to name the lines of the findings")
	fl.StringVar(&f.target, "target", "", "the stage of --dockerfile the image was built from (default the last)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	fl.StringVar(&f.html, "html", "", "also write the report as one self-contained HTML page to this file")
	fl.StringVar(&f.maxWasted, "max-wasted", "", "fail (exit 1) when more bytes than this are wasted, e.g. 20MB")
	fl.Float64Var(&f.minEfficiency, "min-efficiency", 0, "fail (exit 1) when the efficiency is below this ratio, e.g. 0.9")
	fl.StringVar(&f.ciConfig, "ci-config", "", "read CI gates from this YAML file (max-wasted, min-efficiency, min-efficiency-above, max-size, max-layers, deny-packages); flags override it")
	fl.StringVar(&f.effAbove, "min-efficiency-above", "", "apply --min-efficiency only to images of at least this size, e.g. 100MB")
	fl.StringVar(&f.maxSize, "max-size", "", "fail (exit 1) when the image is larger than this, e.g. 500MB")
	fl.IntVar(&f.maxLayers, "max-layers", 0, "fail (exit 1) when the image has more layers than this")
	fl.StringArrayVar(&f.denyPackages, "deny-package", nil, "fail (exit 1) when the image holds a package of this name or pattern (gcc*); repeatable")
	fl.BoolVar(&f.noTrunc, "no-trunc", false, "do not truncate the instructions")
	fl.BoolVar(&f.noCompressed, "no-compressed", false, "do not measure the gzip size of layers stored uncompressed (the slow part)")
	return cmd
}

func runAnalyze(cmd *cobra.Command, g *globals, f *analyzeFlags, ref string) error {
	th, err := ciThresholds(f)
	if err != nil {
		return err
	}
	var opts analyze.Options
	if f.noCompressed {
		opts.Compression = layer.Uncompressed
	}
	if f.dockerfile != "" {
		src, err := os.ReadFile(f.dockerfile)
		if err != nil {
			return fmt.Errorf("reading --dockerfile: %w", err)
		}
		if opts.Dockerfile, err = dockerfile.Parse(f.dockerfile, src); err != nil {
			return err
		}
		opts.Target = f.target
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	rep, err := analyzeImage(cmd.Context(), st, ref, opts)
	if err != nil {
		return err
	}
	check := th.Active()
	if check {
		res := rep.Check(th)
		rep.CI = &res
	}
	out := cmd.OutOrStdout()
	if f.html != "" {
		if err := writeHTMLReport(f.html, ref, rep); err != nil {
			return err
		}
	}
	if f.json {
		if err := writeJSON(out, rep); err != nil {
			return err
		}
	} else {
		printAnalysis(out, rep, analysisView{noTrunc: f.noTrunc})
	}
	if check {
		errw := cmd.ErrOrStderr()
		if !rep.CI.Pass {
			for _, r := range rep.CI.Reasons {
				fmt.Fprintf(errw, "analyze: FAIL: %s\n", r)
			}
			return &exitError{code: 1}
		}
		fmt.Fprintln(errw, "analyze: PASS")
	}
	return nil
}

// ciThresholds returns the CI gates of --ci-config with the flags given
// over them.
func ciThresholds(f *analyzeFlags) (analyze.Thresholds, error) {
	th := analyze.NoThresholds()
	if f.ciConfig != "" {
		data, err := os.ReadFile(f.ciConfig)
		if err != nil {
			return th, fmt.Errorf("reading --ci-config: %w", err)
		}
		if th, err = analyze.ParseCIConfig(f.ciConfig, data); err != nil {
			return th, err
		}
	}
	sizes := []struct {
		flag, v string
		dst     *int64
	}{{"--max-wasted", f.maxWasted, &th.MaxWasted}, {"--min-efficiency-above", f.effAbove, &th.MinEfficiencyAbove}, {"--max-size", f.maxSize, &th.MaxSize}}
	for _, s := range sizes {
		if s.v == "" {
			continue
		}
		n, err := units.FromHumanSize(s.v)
		if err != nil || n < 0 {
			return th, fmt.Errorf("%s %q: give a size such as 20MB or 1.5GB", s.flag, s.v)
		}
		*s.dst = n
	}
	if f.minEfficiency < 0 || f.minEfficiency > 1 {
		return th, fmt.Errorf("--min-efficiency %v: give a ratio between 0 and 1, such as 0.9", f.minEfficiency)
	}
	if f.minEfficiency > 0 {
		th.MinEfficiency = f.minEfficiency
	}
	if f.maxLayers < 0 {
		return th, fmt.Errorf("--max-layers %d: give a positive count", f.maxLayers)
	}
	if f.maxLayers > 0 {
		th.MaxLayers = f.maxLayers
	}
	th.DenyPackages = append(th.DenyPackages, f.denyPackages...)
	return th, nil
}

// analyzeImage analyzes the image ref of st, holding the store's shared
// lock so that no GC removes its blobs meanwhile.
func analyzeImage(ctx context.Context, st *store.Store, ref string, opts analyze.Options) (*analyze.Report, error) {
	unlock, err := st.RLock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	img, _, err := st.Image(ref)
	if err != nil {
		return nil, err
	}
	rep, err := analyze.Analyze(ctx, img, opts)
	if err != nil {
		return nil, fmt.Errorf("analyzing %s: %w", ref, err)
	}
	return rep, nil
}

// analyzeAfterBuild analyzes the image ref a build just made and prints the
// short table and the findings to w, as `strata build --analyze` shows them.
// dockerfileName names the Dockerfile in messages and src is its content
// (nil: rows and findings carry no line); target is the built stage ("" for
// the last).
func analyzeAfterBuild(ctx context.Context, w io.Writer, st *store.Store, ref, dockerfileName string, src []byte, target string) error {
	opts := analyze.Options{Target: target}
	if src != nil {
		df, err := dockerfile.Parse(dockerfileName, src)
		if err != nil {
			return err
		}
		opts.Dockerfile = df
	}
	rep, err := analyzeImage(ctx, st, ref, opts)
	if err != nil {
		return err
	}
	printAnalysis(w, rep, analysisView{short: true})
	return nil
}

// analysisView says how much of a report printAnalysis shows.
type analysisView struct {
	short   bool // the table, the wasted line and the findings only
	noTrunc bool // instructions in full
}

// printAnalysis writes rep as text: the per-layer table, the totals, the
// largest files and directories (unless v.short) and the findings.
func printAnalysis(w io.Writer, rep *analyze.Report, v analysisView) {
	tw := tabwriter.NewWriter(w, 4, 1, 3, ' ', 0)
	lines := rep.Dockerfile != ""
	hdr := "LAYER\tCREATED BY\tSIZE\tIMAGE SIZE\tCOMPRESSED\tADDED\tCHANGED\tREMOVED\tWASTED"
	if lines {
		hdr = "LAYER\tLINE\tCREATED BY\tSIZE\tIMAGE SIZE\tCOMPRESSED\tADDED\tCHANGED\tREMOVED\tWASTED"
	}
	fmt.Fprintln(tw, hdr)
	for _, r := range rep.Rows {
		ins := strings.ReplaceAll(r.Instruction, "\t", " ")
		ins = strings.ReplaceAll(ins, "\n", " ")
		if !v.noTrunc {
			ins = ellipsis(ins, 45)
		}
		layer, cols := "-", []string{ins, humanSize(r.Size), humanSize(r.ImageSize), "-", "-", "-", "-", "-"}
		if r.Layer >= 0 {
			layer = strconv.Itoa(r.Layer)
			cols = []string{ins, humanSize(r.Size), humanSize(r.ImageSize), sizeOrDash(r.CompressedSize),
				strconv.Itoa(r.Added), strconv.Itoa(r.Changed), strconv.Itoa(r.Removed), humanSize(r.Wasted)}
		}
		if lines {
			line := "-"
			if r.Line > 0 {
				line = strconv.Itoa(r.Line)
			}
			cols = append([]string{line}, cols...)
		}
		fmt.Fprintln(tw, layer+"\t"+strings.Join(cols, "\t"))
	}
	tw.Flush()
	compressed := ""
	if rep.CompressedSize > 0 {
		compressed = fmt.Sprintf(" (%s compressed)", humanSize(rep.CompressedSize))
	}
	fmt.Fprintf(w, "\nTotal: %s in %d layers%s, %s of files in the final filesystem\n",
		humanSize(rep.Size), rep.Layers, compressed, humanSize(rep.FinalBytes))
	fmt.Fprintf(w, "Wasted: %s (efficiency %.1f%%)\n", humanSize(rep.Wasted), rep.Efficiency*100)
	if !v.short {
		printPaths(w, "Largest files", rep.LargestFiles)
		printPaths(w, "Largest directories", rep.LargestDirs)
		printPackages(w, rep, 10)
	}
	fmt.Fprintln(w, "\nFindings:")
	if len(rep.Findings) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, fd := range rep.Findings {
		fmt.Fprintf(w, "- [%s] %s. Fix: %s.\n", findingPlace(rep, fd), fd.Message, fd.Fix)
	}
}

// sizeOrDash is humanSize, or "-" for 0 (not measured).
func sizeOrDash(n int64) string {
	if n == 0 {
		return "-"
	}
	return humanSize(n)
}

// findingPlace is the "layer 3, Dockerfile:7" a finding starts with.
func findingPlace(rep *analyze.Report, fd analyze.Finding) string {
	if fd.Layer < 0 {
		return "image"
	}
	place := fmt.Sprintf("layer %d", fd.Layer)
	if fd.Line > 0 && rep.Dockerfile != "" {
		place += fmt.Sprintf(", %s:%d", rep.Dockerfile, fd.Line)
	}
	return place
}

// printPaths writes a titled list of paths with their sizes and layers.
func printPaths(w io.Writer, title string, ps []analyze.PathSize) {
	fmt.Fprintf(w, "\n%s:\n", title)
	tw := tabwriter.NewWriter(w, 4, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "  SIZE\tLAYER\tPATH")
	for _, p := range ps {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", humanSize(p.Size), p.Layer, p.Path)
	}
	tw.Flush()
}
