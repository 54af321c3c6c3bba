package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPlainLooksLikeBuildKit(t *testing.T) {
	var buf bytes.Buffer
	p := NewPlain(&buf)
	t0 := time.Unix(100, 0)
	p.Event(Event{ID: 1, Name: "[1/2] FROM busybox", Status: Started, Time: t0})
	p.Event(Event{ID: 1, Status: Done, Elapsed: 10 * time.Millisecond, Time: t0})
	p.Event(Event{ID: 2, Name: "[2/2] RUN make hello", Status: Started, Time: t0})
	lw := NewLineWriter(p, 2)
	lw.Write([]byte("cc hello.c\npartial"))
	lw.Flush()
	p.Event(Event{ID: 2, Status: Done, Elapsed: 1200 * time.Millisecond, Time: t0})
	p.Event(Event{ID: 3, Name: "[3/3] COPY x /", Status: Cached, Time: t0})
	got := buf.String()
	for _, want := range []string{"#1 [1/2] FROM busybox\n#1 DONE 0.0s\n", "#2 [2/2] RUN make hello\n", "cc hello.c\n", "partial\n", "#2 DONE 1.2s\n", "#3 [3/3] COPY x /\n#3 CACHED\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if tail := lw.Tail(); len(tail) != 2 || tail[1] != "partial" {
		t.Errorf("tail = %q", tail)
	}
}

func TestTTYKeepsFinishedSteps(t *testing.T) {
	var buf bytes.Buffer
	tty := NewTTY(&buf, 60)
	now := time.Now()
	tty.Event(Event{ID: 1, Name: "[1/2] RUN sleep 1", Status: Started, Time: now})
	tty.Event(Event{ID: 1, Status: Log, Line: "working", Time: now})
	tty.Event(Event{ID: 1, Status: Done, Elapsed: time.Second, Time: now})
	out := buf.String()
	if !strings.Contains(out, " => [1/2] RUN sleep 1  1.0s\n") {
		t.Fatalf("finished step line missing:\n%q", out)
	}
	if !strings.Contains(out, "\x1b[1A\x1b[2K") {
		t.Fatalf("live area was never redrawn:\n%q", out)
	}
}
