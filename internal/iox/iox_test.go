package iox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCounters(t *testing.T) {
	var buf bytes.Buffer
	w := &CountWriter{W: &buf}
	r := &CountReader{R: strings.NewReader("hello, world")}
	if _, err := io.Copy(w, r); err != nil {
		t.Fatal(err)
	}
	if w.N != 12 || r.N != 12 || buf.String() != "hello, world" {
		t.Errorf("counted %d written, %d read, got %q", w.N, r.N, buf.String())
	}
	discard := &CountWriter{}
	io.WriteString(discard, "abc")
	if discard.N != 3 {
		t.Errorf("a nil W counted %d, want 3", discard.N)
	}
}

func TestContextReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := ContextReader{Ctx: ctx, R: strings.NewReader("data")}
	p := make([]byte, 2)
	if n, err := r.Read(p); n != 2 || err != nil {
		t.Fatalf("Read before cancel = %d, %v", n, err)
	}
	cancel()
	if _, err := r.Read(p); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel: %v, want context.Canceled", err)
	}
}
