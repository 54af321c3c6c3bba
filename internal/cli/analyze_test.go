package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/internal/analyze"
)

// analyzeTestReport is a small report with every kind of row.
func analyzeTestReport() *analyze.Report {
	return &analyze.Report{
		Dockerfile: "Dockerfile",
		Rows: []analyze.Row{
			{Layer: 0, Instruction: "Imported from busybox.tar", Size: 2_000_000, ImageSize: 2_000_000, CompressedSize: 1_000_000, Added: 270},
			{Layer: 1, Instruction: "RUN dd if=/dev/urandom of=/big bs=1M count=5", Line: 2, Size: 5_243_392, ImageSize: 7_243_392, CompressedSize: 5_300_000, Added: 1, Wasted: 5_242_880},
			{Layer: 2, Instruction: "RUN rm /big", Line: 3, Size: 1536, ImageSize: 7_244_928, Removed: 1, Hidden: 5_242_880},
			{Layer: -1, Instruction: `CMD ["sh"]`, Line: 4, ImageSize: 7_244_928},
		},
		Layers: 3, Size: 7_244_928, CompressedSize: 6_300_000, FinalBytes: 1_990_000,
		Wasted: 5_242_880, Efficiency: 0.275,
		LargestFiles: []analyze.PathSize{{Path: "/bin/busybox", Size: 1_980_000}},
		LargestDirs:  []analyze.PathSize{{Path: "/bin", Size: 1_980_000}},
		Tree:         &analyze.Node{Name: "/", Size: 1_990_000, Children: []*analyze.Node{{Name: "bin", Size: 1_980_000, Children: []*analyze.Node{{Name: "busybox", Size: 1_980_000}}}}},
		Findings: []analyze.Finding{{
			Kind: analyze.DeletedLater, Layer: 2, Line: 3, Bytes: 5_242_880,
			Message: "RUN rm /big saves nothing: the 5.24MB it deletes were added by layer 1 (Dockerfile:2)",
			Fix:     "delete in the same RUN that created them, or copy only what you need in a multi-stage build",
		}},
	}
}

func TestPrintAnalysis(t *testing.T) {
	tests := []struct {
		name    string
		view    analysisView
		want    []string
		notWant []string
	}{
		{
			name: "full",
			want: []string{
				"LAYER   LINE   CREATED BY",
				"1       2      RUN dd if=/dev/urandom of=/big bs=1M count=5   5.24MB   7.24MB       5.3MB        1       0         0         5.24MB",
				"-       4      CMD [\"sh\"]",
				"Total: 7.24MB in 3 layers (6.3MB compressed), 1.99MB of files in the final filesystem",
				"Wasted: 5.24MB (efficiency 27.5%)",
				"Largest files:",
				"- [layer 2, Dockerfile:3] RUN rm /big saves nothing: the 5.24MB it deletes were added by layer 1 (Dockerfile:2). Fix: delete in the same RUN",
			},
		},
		{
			name:    "short",
			view:    analysisView{short: true},
			want:    []string{"Wasted: 5.24MB (efficiency 27.5%)", "Findings:"},
			notWant: []string{"Largest files:", "Largest directories:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			printAnalysis(&buf, analyzeTestReport(), tt.view)
			got := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("output has %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestWriteHTMLReport(t *testing.T) {
	page := filepath.Join(t.TempDir(), "r.html")
	if err := writeHTMLReport(page, "waste:<1>", analyzeTestReport()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{
		"<title>strata analyze waste:&lt;1&gt;</title>",
		`<svg id="layer-chart"`,
		`<svg id="treemap"`,
		`"instruction":"RUN rm /big"`,
		"[layer 2, Dockerfile:3] RUN rm /big saves nothing",
		`id="layer-legend"`,
		`<td class="wasted">5.24MB</td>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Only waste is red: a layer that wastes nothing shows 0B in black.
	if strings.Contains(got, `class="wasted">0B`) {
		t.Error("the page shows a wasted 0B in red")
	}
	if !strings.Contains(got, `<td>0B</td>`) {
		t.Error("the page has no plain 0B wasted cell")
	}
}
