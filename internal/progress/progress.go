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
	// Result is the last event of a build that succeeded: ImageID and Tags.
	Result Status = "result"
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
	// ImageID and Tags are set on a Result event.
	ImageID string   `json:"image_id,omitempty"`
	Tags    []string `json:"tags,omitempty"`
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

// Canceled is the Err of a Failed event whose step was interrupted (Ctrl-C):
// BuildKit's plain output shows "#5 CANCELED" for it.
const Canceled = "canceled"

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
		if e.Err == Canceled {
			fmt.Fprintf(p.w, "#%d CANCELED\n", e.ID)
			break
		}
		fmt.Fprintf(p.w, "#%d ERROR: %s\n", e.ID, e.Err)
	case Info:
		fmt.Fprintf(p.w, "%s\n", e.Line)
	}
}

// JSON renders one JSON object per event and line, and nothing else: the
// stream a program reads from `strata build --progress json`. Each object
// has "status" and "time" (RFC 3339 with nanoseconds) and, by status:
//
//	started  id, name                 a step began ("[2/3] RUN make")
//	log      id, line                 a line of the step's output
//	done     id, elapsed_ms           the step finished, in milliseconds
//	cached   id, name                 the step came from the cache
//	error    id, error                the step failed; id 0: the build failed
//	info     line                     a warning or note
//	result   image_id, tags, elapsed_ms
//
// A build's stream ends with exactly one "result" or one "error" with id 0.
type JSON struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// jsonEvent is an Event as the JSON stream writes it: durations in
// milliseconds, not Go's nanoseconds.
type jsonEvent struct {
	ID        int       `json:"id,omitempty"`
	Name      string    `json:"name,omitempty"`
	Status    Status    `json:"status"`
	Line      string    `json:"line,omitempty"`
	ElapsedMS *float64  `json:"elapsed_ms,omitempty"`
	Err       string    `json:"error,omitempty"`
	Time      time.Time `json:"time"`
	ImageID   string    `json:"image_id,omitempty"`
	Tags      []string  `json:"tags,omitempty"`
}

// NewJSON returns a JSON renderer writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{enc: json.NewEncoder(w)} }

// Event implements Sink.
func (j *JSON) Event(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	je := jsonEvent{ID: e.ID, Name: e.Name, Status: e.Status, Line: e.Line, Err: e.Err,
		Time: e.Time, ImageID: e.ImageID, Tags: e.Tags}
	if e.Status == Done || e.Status == Result {
		ms := float64(e.Elapsed.Microseconds()) / 1000
		je.ElapsedMS = &ms
	}
	if je.Time.IsZero() {
		je.Time = time.Now()
	}
	_ = j.enc.Encode(je)
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
