package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReferenceUpToDate regenerates the reference into a temporary directory
// and compares it with docs/reference, file by file: a CLI change without
// `make docs` fails here.
func TestReferenceUpToDate(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	committed := filepath.Join(filepath.Dir(self), "..", "..", "docs", "reference")
	fresh := t.TempDir()
	if err := generate(fresh); err != nil {
		t.Fatal(err)
	}
	got, err := pageNames(committed)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pageNames(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("docs/reference has other pages than the CLI (-generated +committed); run `make docs`:\n%s", diff)
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			g, err := os.ReadFile(filepath.Join(committed, name))
			if err != nil {
				t.Fatal(err)
			}
			w, err := os.ReadFile(filepath.Join(fresh, name))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(w), string(g)); diff != "" {
				t.Errorf("docs/reference/%s is stale (-generated +committed); run `make docs`:\n%s", name, diff)
			}
		})
	}
}

// TestGenerateIsStable checks that two runs give the same bytes (no dates).
func TestGenerateIsStable(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := generate(a); err != nil {
		t.Fatal(err)
	}
	if err := generate(b); err != nil {
		t.Fatal(err)
	}
	names, err := pageNames(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("generated %d pages, want one Markdown and one man page per command", len(names))
	}
	for _, name := range names {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if string(x) != string(y) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}
