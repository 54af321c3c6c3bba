package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// TTY renders a live view for a terminal: finished steps scroll up as one
// line each, running steps stay at the bottom with their elapsed time and
// last output line, redrawn in place. Every line is cut to one column less
// than the terminal's width, so that no line wraps and a repaint erases
// exactly what the last one drew, however long a step's command or output.
type TTY struct {
	mu     sync.Mutex
	w      io.Writer
	width  func() int
	active []int
	steps  map[int]*ttyStep
	drawn  int // lines of the live area currently on screen
	last   time.Time
}

type ttyStep struct {
	name  string
	start time.Time
	line  string
}

// NewTTY returns a live renderer writing to a terminal w that is width
// columns wide.
func NewTTY(w io.Writer, width int) *TTY {
	return NewResizableTTY(w, func() int { return width })
}

// NewResizableTTY returns a live renderer writing to a terminal w whose
// width width reports; it is asked again at every repaint, so that a resized
// terminal (SIGWINCH) gets lines of its new width. A width of 0 or less
// means 80 columns.
func NewResizableTTY(w io.Writer, width func() int) *TTY {
	return &TTY{w: w, width: width, steps: map[int]*ttyStep{}}
}

// Event implements Sink.
func (t *TTY) Event(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Status {
	case Started:
		t.steps[e.ID] = &ttyStep{name: e.Name, start: e.Time}
		t.active = append(t.active, e.ID)
	case Log:
		if s := t.steps[e.ID]; s != nil {
			s.line = e.Line
		}
		if time.Since(t.last) < 80*time.Millisecond {
			return
		}
	case Done, Cached, Failed:
		t.finish(e)
	case Info:
		t.clear()
		for _, l := range strings.Split(e.Line, "\n") {
			fmt.Fprintln(t.w, t.fit("", l, ""))
		}
	}
	t.draw()
}

// finish prints a step's last line above the live area.
func (t *TTY) finish(e Event) {
	name := e.Name
	s := t.steps[e.ID]
	if s != nil {
		name = s.name
	}
	t.clear()
	switch e.Status {
	case Done:
		fmt.Fprintln(t.w, t.fit(" => ", name, fmt.Sprintf("  %.1fs", e.Elapsed.Seconds())))
	case Cached:
		fmt.Fprintln(t.w, t.fit(" => CACHED ", name, ""))
	case Failed:
		fmt.Fprintln(t.w, t.fit(" => ERROR ", name, ""))
		for _, l := range strings.Split(e.Err, "\n") {
			fmt.Fprintln(t.w, t.fit(" ! ", l, ""))
		}
		if s != nil && s.line != "" {
			fmt.Fprintln(t.w, t.fit("    | ", s.line, ""))
		}
	}
	t.remove(e.ID)
}

func (t *TTY) remove(id int) {
	for i, a := range t.active {
		if a == id {
			t.active = append(t.active[:i], t.active[i+1:]...)
			break
		}
	}
	delete(t.steps, id)
}

// clear erases the live area.
func (t *TTY) clear() {
	for ; t.drawn > 0; t.drawn-- {
		fmt.Fprint(t.w, "\x1b[1A\x1b[2K")
	}
}

// draw redraws the running steps.
func (t *TTY) draw() {
	t.clear()
	for _, id := range t.active {
		s := t.steps[id]
		fmt.Fprintln(t.w, t.fit(" => ", s.name, fmt.Sprintf("  %.1fs", time.Since(s.start).Seconds())))
		t.drawn++
		if s.line != "" {
			fmt.Fprintln(t.w, t.fit("    | ", s.line, ""))
			t.drawn++
		}
	}
	t.last = time.Now()
}

// fit returns prefix+text+suffix cut to one column less than the terminal
// (the last column would leave some terminals waiting to wrap): text gives
// way first, then the whole line. Control characters (a progress bar's \r,
// colour escapes, tabs) become spaces, as they would move the cursor.
func (t *TTY) fit(prefix, text, suffix string) string {
	cols := t.width()
	if cols <= 0 {
		cols = 80
	}
	max := cols - 1
	text = printable(text)
	if room := max - utf8.RuneCountInString(prefix) - utf8.RuneCountInString(suffix); utf8.RuneCountInString(text) > room {
		text = cut(text, room)
	}
	return cut(prefix+text+suffix, max)
}

// printable replaces every control character of s with a space.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// cut returns s in at most n runes, ending in "…" when it was cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
