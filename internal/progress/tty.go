package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// TTY renders a live view for a terminal: finished steps scroll up as one
// line each, running steps stay at the bottom with their elapsed time and
// last output line, redrawn in place.
type TTY struct {
	mu     sync.Mutex
	w      io.Writer
	width  int
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

// NewTTY returns a live renderer writing to a terminal w that is width columns wide.
func NewTTY(w io.Writer, width int) *TTY {
	if width <= 20 {
		width = 80
	}
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
		name := e.Name
		if s := t.steps[e.ID]; s != nil {
			name = s.name
		}
		t.clear()
		switch e.Status {
		case Done:
			fmt.Fprintf(t.w, " => %s  %.1fs\n", t.fit(name, 10), e.Elapsed.Seconds())
		case Cached:
			fmt.Fprintf(t.w, " => CACHED %s\n", t.fit(name, 10))
		case Failed:
			fmt.Fprintf(t.w, " => ERROR %s: %s\n", t.fit(name, 10), e.Err)
			if s := t.steps[e.ID]; s != nil && s.line != "" {
				fmt.Fprintf(t.w, "    | %s\n", t.fit(s.line, 6))
			}
		}
		t.remove(e.ID)
	case Info:
		t.clear()
		fmt.Fprintln(t.w, e.Line)
	}
	t.draw()
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
		fmt.Fprintf(t.w, " => %s  %.1fs\n", t.fit(s.name, 10), time.Since(s.start).Seconds())
		t.drawn++
		if s.line != "" {
			fmt.Fprintf(t.w, "    | %s\n", t.fit(s.line, 6))
			t.drawn++
		}
	}
	t.last = time.Now()
}

func (t *TTY) fit(s string, reserve int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if max := t.width - reserve; len(s) > max && max > 3 {
		return s[:max-1] + "…"
	}
	return s
}
