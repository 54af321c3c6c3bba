package dockerfile

import (
	"strings"
	"testing"
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
