package layer

import (
	"bytes"
	"context"
	"testing"
)

// TestExtractStatsContent checks that Extract counts a layer's content size
// as ContentSize does, so that a pull that extracts needs no second read.
func TestExtractStatsContent(t *testing.T) {
	for _, tc := range contentSizeCases() {
		t.Run(tc.name, func(t *testing.T) {
			stats, err := Extract(context.Background(), tarOf(t, tc.entries), t.TempDir(), ExtractOptions{Format: DiffFormat})
			if err != nil {
				t.Fatal(err)
			}
			if got := stats.Content; got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// TestWriteStatsContent checks that WriteTar counts the content size of the
// tar it writes as ContentSize does, so that a build's layer needs no
// second read for the size docker shows: each case's layer, extracted and
// written again.
func TestWriteStatsContent(t *testing.T) {
	for _, tc := range contentSizeCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Extract(context.Background(), tarOf(t, tc.entries), dir, ExtractOptions{Format: DiffFormat}); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			stats, err := WriteTar(context.Background(), dir, &buf, WriteOptions{Format: DiffFormat})
			if err != nil {
				t.Fatal(err)
			}
			want, err := ContentSize(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := stats.Content; got != want || got != tc.want {
				t.Errorf("got %d, want ContentSize's %d (the case's %d)", got, want, tc.want)
			}
		})
	}
}
