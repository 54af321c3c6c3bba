package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAnalyze builds an image whose last RUN deletes a 5 MiB file an earlier
// RUN wrote, and checks that analyze reports the waste, names the rm's line,
// fails CI thresholds, prints JSON and draws its HTML page in Chromium.
func TestAnalyze(t *testing.T) {
	s := newStrata(t)
	ctxDir := writeContext(t, map[string]string{"Dockerfile": `FROM busybox
RUN dd if=/dev/urandom of=/big bs=1M count=5
RUN rm /big
CMD ["sh"]
`})
	df := filepath.Join(ctxDir, "Dockerfile")
	s.must("build", "--progress", "plain", "-t", "waste:1", ctxDir)

	t.Run("text", func(t *testing.T) {
		r := s.must("analyze", "--dockerfile", df, "waste:1")
		for _, want := range []string{
			"Wasted: 5.24MB (efficiency ",
			"- [layer 2, " + df + ":3] RUN rm /big saves nothing: the 5.24MB it deletes were added by layer 1 (" + df + ":2). Fix: delete in the same RUN",
			"Largest files:",
			"Largest directories:",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("analyze output lacks %q:\n%s", want, r.stdout)
			}
		}
		// The table: one row per history entry, the rm's row with its line.
		var rmRow string
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.Contains(l, "RUN rm /big") && !strings.HasPrefix(l, "-") {
				rmRow = l
			}
		}
		if f := strings.Fields(rmRow); len(f) < 2 || f[0] != "2" || f[1] != "3" {
			t.Errorf("rm row = %q, want layer 2 at line 3", rmRow)
		}
	})

	t.Run("build --analyze", func(t *testing.T) {
		r := s.must("build", "--analyze", "-t", "waste:2", ctxDir)
		want := "RUN rm /big saves nothing: the 5.24MB it deletes were added by layer 1 (Dockerfile:2)."
		if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "Wasted: 5.24MB") {
			t.Errorf("build --analyze printed no finding %q:\n%s", want, r.stdout)
		}
	})

	t.Run("without a Dockerfile", func(t *testing.T) {
		r := s.must("analyze", "--no-compressed", "waste:1")
		want := "- [layer 2] RUN rm /big saves nothing: the 5.24MB it deletes were added by layer 1."
		if !strings.Contains(r.stdout, want) {
			t.Errorf("analyze output lacks %q:\n%s", want, r.stdout)
		}
	})

	t.Run("CI thresholds", func(t *testing.T) {
		tests := []struct {
			args     []string
			wantCode int
			wantErr  string
		}{
			{[]string{"--max-wasted", "1MB"}, 1, "analyze: FAIL: wasted bytes 5.24MB (5242880) exceed --max-wasted 1MB (1000000)"},
			{[]string{"--min-efficiency", "0.9"}, 1, "analyze: FAIL: efficiency 0."},
			{[]string{"--max-wasted", "20MB", "--min-efficiency", "0.1"}, 0, "analyze: PASS"},
		}
		for _, tt := range tests {
			t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
				r := s.run(append(append([]string{"analyze", "--no-compressed"}, tt.args...), "waste:1")...)
				if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantErr) {
					t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.wantCode, tt.wantErr)
				}
			})
		}
	})

	t.Run("json", func(t *testing.T) {
		r := s.must("analyze", "--json", "--dockerfile", df, "--max-wasted", "20MB", "waste:1")
		var rep struct {
			Layers     int     `json:"layers"`
			Wasted     int64   `json:"wasted"`
			Efficiency float64 `json:"efficiency"`
			Rows       []struct {
				Layer          int    `json:"layer"`
				Instruction    string `json:"instruction"`
				Line           int    `json:"line"`
				Size           int64  `json:"size"`
				CompressedSize int64  `json:"compressedSize"`
			} `json:"rows"`
			Findings []struct {
				Kind  string `json:"kind"`
				Layer int    `json:"layer"`
				Line  int    `json:"line"`
				Bytes int64  `json:"bytes"`
			} `json:"findings"`
			CI struct {
				Pass bool `json:"pass"`
			} `json:"ci"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("analyze --json: %v\n%s", err, r.stdout)
		}
		if rep.Layers != 3 || rep.Wasted != 5<<20 || rep.Efficiency <= 0 || rep.Efficiency >= 0.5 || !rep.CI.Pass {
			t.Errorf("layers %d, wasted %d, efficiency %v, pass %v; want 3, %d, in (0, 0.5), true",
				rep.Layers, rep.Wasted, rep.Efficiency, rep.CI.Pass, 5<<20)
		}
		if len(rep.Rows) != 4 || rep.Rows[1].Line != 2 || rep.Rows[3].Layer != -1 || rep.Rows[3].Instruction != `CMD ["sh"]` {
			t.Errorf("rows %+v, want base, dd (line 2), rm, CMD (empty)", rep.Rows)
		}
		// Random bytes do not compress: the dd layer stays about 5 MiB.
		if c := rep.Rows[1].CompressedSize; c < 5<<20 || c > 6<<20 {
			t.Errorf("dd layer compressed size %d, want about 5MiB", c)
		}
		if len(rep.Findings) == 0 || rep.Findings[0].Kind != "deleted-later" || rep.Findings[0].Layer != 2 ||
			rep.Findings[0].Line != 3 || rep.Findings[0].Bytes != 5<<20 {
			t.Errorf("findings %+v, want deleted-later at layer 2, line 3, 5MiB first", rep.Findings)
		}
	})

	t.Run("html", func(t *testing.T) {
		page := filepath.Join(t.TempDir(), "report.html")
		s.must("analyze", "--no-compressed", "--html", page, "waste:1")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu",
			"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium --dump-dom (apt-get install chromium): %v", err)
		}
		dom := string(out)
		for _, want := range []string{`data-drawn="true"`, `data-bars="3"`, `class="bar"`, `class="bar-wasted"`, `class="cell"`, `data-path="/bin"`} {
			if !strings.Contains(dom, want) {
				t.Errorf("the page Chromium drew lacks %s", want)
			}
		}
		// Self-contained: nothing to load.
		src, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"<link", " src=", "url(", "@import", "https://"} {
			if strings.Contains(string(src), bad) {
				t.Errorf("the page holds %q: it must load nothing", bad)
			}
		}
	})
}
