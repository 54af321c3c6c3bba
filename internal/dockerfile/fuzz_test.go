package dockerfile

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse or Expand panic, that every
// error is an *Error (file and line, as the CLI prints them) whose line lies
// inside the file, and that every parsed stage has a base name. The seed
// corpus is testdata/fuzz/FuzzParse plus the cases below.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"FROM busybox\nRUN echo hi\n",
		"ARG V=1\nFROM busybox:${V} AS a\nCOPY --from=a / /\n",
		"# escape=`\nFROM busybox\nRUN echo `\n  hi\n",
		"FROM busybox\nRUN <<EOF\necho hi\nEOF\n",
		"FROM busybox\nRUN --mount=type=cache,target=/c ls /c\n",
		"FROM a\nONBUILD RUN x\nHEALTHCHECK CMD true\n",
		"FROM ${X:-busybox}\nENV A=${B:?unset}\n",
		"RUN before from\n",
		"FORM busybox\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		lines := strings.Count(src, "\n") + 1
		checkErr := func(what string, err error) {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("%s: error %T %q is not a *dockerfile.Error", what, err, err)
			}
			if de.File != "Dockerfile" || de.Line < 0 || de.Line > lines+1 {
				t.Fatalf("%s: error %q at %s:%d, outside a file of %d lines", what, err, de.File, de.Line, lines)
			}
			if de.Msg == "" {
				t.Fatalf("%s: error without a message", what)
			}
		}
		df, err := Parse("Dockerfile", []byte(src))
		if err != nil {
			checkErr("Parse", err)
			return
		}
		if len(df.Stages) == 0 {
			t.Fatal("Parse succeeded without a stage")
		}
		lex := df.Lex()
		env := NewEnv([]string{"A=1", "B=two words"})
		for _, a := range df.MetaArgs {
			for _, kv := range a.Args {
				if kv.Value != nil {
					if _, err := df.Expand(lex, a.Location(), *kv.Value, env); err != nil {
						checkErr("Expand ARG", err)
					}
				}
			}
		}
		for _, s := range df.Stages {
			if _, err := df.Expand(lex, s.Location, s.BaseName, env); err != nil {
				checkErr("Expand FROM", err)
			}
		}
	})
}
