package layer

import (
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
