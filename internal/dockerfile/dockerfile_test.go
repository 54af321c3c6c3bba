package dockerfile

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func TestParseErrorsNameTheLine(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown instruction on line 7", "FROM busybox\n\n# c\nRUN true\nENV A=1\nWORKDIR /x\nFORM busybox\n", "Dockerfile:7: unknown instruction FORM (did you mean FROM?)"},
		{"no from", "RUN true\n", "Dockerfile:1: RUN before the first FROM"},
		{"empty", "\n\n", "the Dockerfile is empty"},
		{"bad flag", "FROM busybox\nCOPY --nope=1 a b\n", "Dockerfile:2: unknown flag: --nope"},
		{"missing args", "FROM busybox\nRUN true\nENV\n", "Dockerfile:3: ENV requires at least one argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("Dockerfile", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseStages(t *testing.T) {
	df, err := Parse("Dockerfile", []byte("# escape=`\nARG X=1\nFROM busybox AS One\nRUN echo `\n  hi\nFROM scratch\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Stages) != 2 || len(df.MetaArgs) != 1 || df.Escape != '`' {
		t.Fatalf("got %d stages, %d meta args, escape %q", len(df.Stages), len(df.MetaArgs), df.Escape)
	}
	if got := df.Stages[0].Name; got != "one" {
		t.Errorf("stage name %q", got)
	}
}

func TestErrorUnwraps(t *testing.T) {
	loc := []parser.Range{{Start: parser.Position{Line: 3}}}
	tests := []struct {
		name string
		err  error
	}{
		{"Errorf with %w", Errorf("Dockerfile", loc, "reading %s: %w", "a.txt", fs.ErrNotExist)},
		{"Wrap", Wrap("Dockerfile", loc, "COPY", fmt.Errorf("reading a.txt: %w", fs.ErrNotExist))},
		{"wrapped again", fmt.Errorf("building: %w", Wrap("Dockerfile", loc, "RUN", fs.ErrNotExist))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, fs.ErrNotExist) {
				t.Errorf("errors.Is(%q, fs.ErrNotExist) = false, want true", tt.err)
			}
			var de *Error
			if !errors.As(tt.err, &de) || de.Line != 3 {
				t.Errorf("errors.As(%q) gave %+v, want a *Error at line 3", tt.err, de)
			}
		})
	}
}

func TestErrorSaysTheInstructionOnce(t *testing.T) {
	loc := []parser.Range{{Start: parser.Position{Line: 2}}}
	tests := []struct {
		name, what string
		err        error
		want       string
	}{
		{"cause names it", "COPY", errors.New("COPY cannot take a URL (http://x/y): use ADD"), "Dockerfile:2: COPY cannot take a URL (http://x/y): use ADD"},
		{"cause names it with a colon", "RUN", errors.New("RUN: exit code 1"), "Dockerfile:2: RUN: exit code 1"},
		{"cause does not name it", "ADD", errors.New("reading a.txt: no such file"), "Dockerfile:2: ADD: reading a.txt: no such file"},
		{"a longer word is not the name", "COPY", errors.New("COPYING: nothing"), "Dockerfile:2: COPY: COPYING: nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Wrap("Dockerfile", loc, tt.what, tt.err).Error()
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseErrorWrapsTheParserError(t *testing.T) {
	_, err := Parse("Dockerfile", []byte("FROM busybox\nFORM busybox\n"))
	var ue *instructions.UnknownInstructionError
	if !errors.As(err, &ue) {
		t.Fatalf("got %T %q, want it to wrap *instructions.UnknownInstructionError", err, err)
	}
}
