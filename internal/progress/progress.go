// Package progress carries build progress events from the builder to a
// renderer chosen by the CLI: BuildKit-style plain lines, a live view on a
// terminal, or JSON. The builder only emits events; it never prints.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Status is what happened to a step.
type Status string

// The statuses of a step.
const (
	Started Status = "started"
	Log     Status = "log"
	Done    Status = "done"
	Cached  Status = "cached"
	Failed  Status = "error"
	Info    Status = "info" // a message not tied to a step's life (warnings)
)

// Event is one thing that happened during a build.
type Event struct {
	ID      int           `json:"id"`
	Name    string        `json:"name,omitempty"`
	Status  Status        `json:"status"`
	Line    string        `json:"line,omitempty"`
	Elapsed time.Duration `json:"elapsed,omitempty"`
	Err     string        `json:"error,omitempty"`
	Time    time.Time     `json:"time"`
}

// Sink receives events; implementations must be safe for concurrent use.
type Sink interface {
	Event(Event)
}

// Discard is a Sink that drops everything.
type Discard struct{}

// Event implements Sink.
func (Discard) Event(Event) {}

// Plain renders events as BuildKit's plain progress does:
//
//	#5 [compiler 3/4] RUN make hello
//	#5 0.312 cc hello.c -o hello
//	#5 DONE 1.2s
type Plain struct {
	mu    sync.Mutex
	w     io.Writer
	start map[int]time.Time
}

// NewPlain returns a plain renderer writing to w.
func NewPlain(w io.Writer) *Plain { return &Plain{w: w, start: map[int]time.Time{}} }

// Event implements Sink.
func (p *Plain) Event(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Status {
	case Started:
		p.start[e.ID] = e.Time
		fmt.Fprintf(p.w, "#%d %s\n", e.ID, e.Name)
	case Log:
		rel := e.Time.Sub(p.start[e.ID]).Seconds()
		fmt.Fprintf(p.w, "#%d %.3f %s\n", e.ID, rel, strings.TrimRight(e.Line, "\n"))
	case Done:
		fmt.Fprintf(p.w, "#%d DONE %.1fs\n", e.ID, e.Elapsed.Seconds())
	case Cached:
		if _, ok := p.start[e.ID]; !ok {
			fmt.Fprintf(p.w, "#%d %s\n", e.ID, e.Name)
		}
		fmt.Fprintf(p.w, "#%d CACHED\n", e.ID)
	case Failed:
		fmt.Fprintf(p.w, "#%d ERROR: %s\n", e.ID, e.Err)
	case Info:
		fmt.Fprintf(p.w, "%s\n", e.Line)
	}
}

// JSON renders one JSON object per event and line.
type JSON struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSON returns a JSON renderer writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

// Event implements Sink.
func (j *JSON) Event(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(e)
}

// Counter hands out step numbers.
type Counter struct {
	mu sync.Mutex
	n  int
}

// Next returns the next step number, from 1.
func (c *Counter) Next() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

// LineWriter turns a byte stream into Log events for step id, keeping the
// last lines for error messages.
type LineWriter struct {
	mu    sync.Mutex
	sink  Sink
	id    int
	buf   []byte
	tail  []string
	limit int
}

// NewLineWriter returns a writer that emits each line as a Log event.
func NewLineWriter(sink Sink, id int) *LineWriter {
	return &LineWriter{sink: sink, id: id, limit: 10}
}

// Write implements io.Writer.
func (l *LineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		l.emit(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *LineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	l.sink.Event(Event{ID: l.id, Status: Log, Line: line, Time: time.Now()})
	l.tail = append(l.tail, line)
	if len(l.tail) > l.limit {
		l.tail = l.tail[len(l.tail)-l.limit:]
	}
}

// Flush emits a last partial line.
func (l *LineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

// Tail returns the last lines written.
func (l *LineWriter) Tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tail...)
}
