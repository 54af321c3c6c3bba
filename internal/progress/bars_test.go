package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestBar(t *testing.T) {
	tests := []struct {
		current, total int64
		want           string
	}{
		{0, 10, "[>         ]"},
		{5, 10, "[=====>    ]"},
		{10, 10, "[==========]"},
		{12, 10, "[==========]"},
		{-1, 10, "[>         ]"},
		{3, 0, ""},
	}
	for _, tt := range tests {
		if got := Bar(tt.current, tt.total, 10); got != tt.want {
			t.Errorf("Bar(%d, %d) = %q, want %q", tt.current, tt.total, got, tt.want)
		}
	}
}

func TestBarsPlainPrintsOnlyFinalStatus(t *testing.T) {
	var buf bytes.Buffer
	b := NewBars(&buf, false)
	b.Set("aaa", "Downloading", 1, 10)
	b.Set("bbb", "Waiting", 0, 0)
	b.Done("bbb", "Already exists")
	b.Set("aaa", "Downloading", 10, 10)
	b.Done("aaa", "Pull complete")
	b.Set("aaa", "Downloading", 3, 10) // after Done: ignored
	b.Close()
	if got, want := buf.String(), "bbb: Already exists\naaa: Pull complete\n"; got != want {
		t.Errorf("plain output = %q, want %q", got, want)
	}
}

func TestBarsTTYRedrawsInPlace(t *testing.T) {
	var buf bytes.Buffer
	b := NewBars(&buf, true)
	b.Set("aaa", "Downloading", 0, 2000)
	b.Set("bbb", "Waiting", 0, 0)
	b.Done("aaa", "Pull complete")
	b.Close()
	out := buf.String()
	for _, want := range []string{"aaa: Downloading  [>", "0B/2kB", "\x1b[2A", "aaa: Pull complete\n", "bbb: Waiting\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("tty output %q lacks %q", out, want)
		}
	}
	// The last frame shows both rows, final status first.
	last := out[strings.LastIndex(out, "\x1b[2A"):]
	if got, want := strings.Count(last, "\n"), 2; got != want {
		t.Errorf("last frame has %d lines, want %d: %q", got, want, last)
	}
}
