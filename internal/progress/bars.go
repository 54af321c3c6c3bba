package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
)

// Bars shows transfers one line per item, the way docker pull and push do.
// On a terminal every line is redrawn in place with a progress bar; elsewhere
// only each item's final status is printed, once.
type Bars struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	rows  []*barRow
	byID  map[string]*barRow
	drawn int // lines of the live area currently on screen
	last  time.Time
}

type barRow struct {
	id      string
	status  string
	current int64
	total   int64
	done    bool
}

// barWidth is the number of cells inside a bar's brackets, as docker's.
const barWidth = 50

// NewBars returns a renderer writing to w; tty selects the live view.
func NewBars(w io.Writer, tty bool) *Bars {
	return &Bars{w: w, tty: tty, byID: map[string]*barRow{}}
}

// row returns the row for id, adding it at the bottom if it is new.
func (b *Bars) row(id string) *barRow {
	r := b.byID[id]
	if r == nil {
		r = &barRow{id: id}
		b.byID[id] = r
		b.rows = append(b.rows, r)
	}
	return r
}

// Set shows id as status with current of total bytes done (total 0: no bar).
func (b *Bars) Set(id, status string, current, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.row(id)
	if r.done {
		return
	}
	changed := r.status != status
	r.status, r.current, r.total = status, current, total
	if b.tty && (changed || time.Since(b.last) >= 100*time.Millisecond) {
		b.redraw()
	}
}

// Done gives id its final status ("Pull complete", "Already exists").
func (b *Bars) Done(id, status string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.row(id)
	r.status, r.done = status, true
	if b.tty {
		b.redraw()
		return
	}
	fmt.Fprintf(b.w, "%s: %s\n", id, status)
}

// Close draws the final state; nothing is drawn after it.
func (b *Bars) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tty {
		b.redraw()
	}
	b.drawn = 0
}

// redraw moves the cursor back over the lines drawn last and draws every row.
func (b *Bars) redraw() {
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", b.drawn)
	}
	for _, r := range b.rows {
		sb.WriteString("\x1b[2K")
		sb.WriteString(r.line())
		sb.WriteByte('\n')
	}
	io.WriteString(b.w, sb.String())
	b.drawn = len(b.rows)
	b.last = time.Now()
}

// line renders one row: "1a2b3c4d5e6f: Downloading  [=====>   ]  3.2MB/27.1MB".
func (r *barRow) line() string {
	if r.done || r.total <= 0 {
		return r.id + ": " + r.status
	}
	return fmt.Sprintf("%s: %-12s %s %8s/%s", r.id, r.status, Bar(r.current, r.total, barWidth),
		units.HumanSize(float64(r.current)), units.HumanSize(float64(r.total)))
}

// Bar renders current of total as docker's bracketed bar, width cells wide.
func Bar(current, total int64, width int) string {
	if total <= 0 || width <= 0 {
		return ""
	}
	if current > total {
		current = total
	}
	if current < 0 {
		current = 0
	}
	filled := int(current * int64(width) / total)
	var sb strings.Builder
	sb.WriteByte('[')
	switch {
	case filled >= width:
		sb.WriteString(strings.Repeat("=", width))
	default:
		sb.WriteString(strings.Repeat("=", filled))
		sb.WriteByte('>')
		sb.WriteString(strings.Repeat(" ", width-filled-1))
	}
	sb.WriteByte(']')
	return sb.String()
}
