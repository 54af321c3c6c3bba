package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// screen is a small terminal: it wraps at cols, moves up on ESC[1A and
// clears a line on ESC[2K, which is all the live view writes.
type screen struct {
	cols int
	rows []string
	row  int
}

func (s *screen) write(out string) {
	for len(out) > 0 {
		switch {
		case strings.HasPrefix(out, "\x1b[1A"):
			if s.row > 0 {
				s.row--
			}
			out = out[4:]
			continue
		case strings.HasPrefix(out, "\x1b[2K"):
			s.grow()
			s.rows[s.row] = ""
			out = out[4:]
			continue
		}
		r, n := utf8.DecodeRuneInString(out)
		out = out[n:]
		s.grow()
		if r == '\n' {
			s.row++
			continue
		}
		if utf8.RuneCountInString(s.rows[s.row]) == s.cols {
			s.row++ // the terminal wraps
			s.grow()
		}
		s.rows[s.row] += string(r)
	}
}

func (s *screen) grow() {
	for len(s.rows) <= s.row {
		s.rows = append(s.rows, "")
	}
}

// count returns how many lines on screen contain sub.
func (s *screen) count(sub string) int {
	n := 0
	for _, r := range s.rows {
		if strings.Contains(r, sub) {
			n++
		}
	}
	return n
}

// TestTTYOneLinePerStep drives the live view with a long RUN line that runs
// for 15 s and prints long, messy output, at several widths and through a
// resize, and checks after every event that the step shows on one screen
// line, not a new copy per repaint.
func TestTTYOneLinePerStep(t *testing.T) {
	run := "[2/3] RUN apt-get update && apt-get install -y --no-install-recommends build-essential ca-certificates curl git libssl-dev pkg-config python3"
	output := []string{
		"Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]\tand a tab",
		"\r 45% [Working]\r 90% [Waiting for headers] \x1b[1mbold\x1b[0m and then a very long line that goes on and on past any terminal width you have",
		strings.Repeat("é", 300),
	}
	for _, tc := range []struct {
		name  string
		width []int  // the width at each event, the last repeated
		mark  string // what the step's line shows of its name
	}{
		{"80 columns", []int{80}, "[2/3] RUN"},
		{"narrow", []int{24}, " => [2/3] RUN"},
		{"very narrow", []int{14}, " => […"},
		{"wide", []int{200}, "[2/3] RUN"},
		{"shrunk", []int{120, 120, 120, 60}, "[2/3] RUN"},
		{"grown", []int{40, 40, 100}, "[2/3] RUN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			events := 0
			width := func() int {
				return tc.width[min(events, len(tc.width)-1)]
			}
			tty := NewResizableTTY(&buf, width)
			scr := &screen{cols: 1000}
			step := func(e Event) {
				scr.cols = width()
				tty.Event(e)
				scr.write(buf.String())
				buf.Reset()
				events++
			}
			start := time.Now().Add(-15 * time.Second)
			step(Event{ID: 1, Name: "[1/3] FROM docker.io/library/debian:bookworm", Status: Cached, Time: start})
			step(Event{ID: 2, Name: run, Status: Started, Time: start})
			for _, l := range output {
				time.Sleep(90 * time.Millisecond) // past the repaint throttle
				step(Event{ID: 2, Status: Log, Line: l, Time: time.Now()})
				if got := scr.count(tc.mark); got != 1 {
					t.Fatalf("after %d events at %d columns got %d lines for the running step, want 1:\n%s", events, width(), got, strings.Join(scr.rows, "\n"))
				}
			}
			step(Event{ID: 2, Status: Done, Elapsed: 15 * time.Second, Time: time.Now()})
			step(Event{ID: 3, Name: "[3/3] WORKDIR /src", Status: Started, Time: time.Now()})
			step(Event{ID: 3, Status: Failed, Err: "mkdir /src: permission denied, a long error that says what to do about it", Time: time.Now()})
			for i, r := range scr.rows {
				if n := utf8.RuneCountInString(r); n >= width() {
					t.Errorf("line %d is %d columns, want < %d: %q", i, n, width(), r)
				}
				if strings.ContainsAny(r, "\r\t\x1b") {
					t.Errorf("line %d holds a control character: %q", i, r)
				}
			}
			if got := scr.count(tc.mark); got != 1 {
				t.Errorf("got %d lines for the finished step, want 1:\n%s", got, strings.Join(scr.rows, "\n"))
			}
		})
	}
}
