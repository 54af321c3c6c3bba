// Package dockerfile parses Dockerfiles with BuildKit's own parser and
// instruction types, and reports every mistake as file:line with what to do.
package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Dockerfile is a parsed Dockerfile: its stages and the ARGs before the first FROM.
type Dockerfile struct {
	// File is the name used in messages (the path as the user gave it).
	File string
	// Stages are the build stages in order; a stage's index is its position.
	Stages []instructions.Stage
	// MetaArgs are the ARG instructions before the first FROM.
	MetaArgs []instructions.ArgCommand
	// Escape is the escape character from the `# escape=` directive.
	Escape rune
	// Lines holds the source lines, for messages that quote them.
	Lines []string
	// Warnings are the parser's warnings, already located.
	Warnings []string
	// Directives are the parser directives the Dockerfile gives
	// (# syntax=, # check=; # escape= is in Escape).
	Directives []parser.Directive
}

// Error is a mistake in a Dockerfile, located. It wraps the error that
// caused it, if any, so errors.Is and errors.As see through it.
type Error struct {
	File string
	Line int // 1-based; 0 when unknown
	// Msg is the whole message after the location, including the cause's text.
	Msg string
	// Err is the cause, or nil.
	Err error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an Error at the start of loc. As with fmt.Errorf, a %w verb
// makes the argument the cause that Unwrap returns.
func Errorf(file string, loc []parser.Range, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	de := &Error{File: file, Line: Line(loc), Msg: err.Error()}
	switch err.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		de.Err = err
	}
	return de
}

// Wrap locates err at the start of loc, under what (an instruction name such
// as "COPY"). The name is said once: when err's message already starts with
// it, the message is err's alone.
func Wrap(file string, loc []parser.Range, what string, err error) error {
	msg := err.Error()
	if what != "" && !startsWithWord(msg, what) {
		msg = what + ": " + msg
	}
	return &Error{File: file, Line: Line(loc), Msg: msg, Err: err}
}

// startsWithWord reports whether s starts with word followed by the end, a
// space or a colon.
func startsWithWord(s, word string) bool {
	if !strings.HasPrefix(s, word) {
		return false
	}
	rest := s[len(word):]
	return rest == "" || rest[0] == ' ' || rest[0] == ':'
}

// Line returns the first line of a location, or 0.
func Line(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// Parse parses the Dockerfile src, named file in messages.
func Parse(file string, src []byte) (*Dockerfile, error) {
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, &Error{File: file, Msg: "the Dockerfile is empty: it needs at least a FROM instruction"}
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, locate(file, nil, err)
	}
	df := &Dockerfile{File: file, Escape: res.EscapeToken, Lines: strings.Split(string(src), "\n")}
	for _, key := range []string{"syntax", "check"} {
		if v, _, loc, ok := parser.ParseDirective(key, src); ok {
			df.Directives = append(df.Directives, parser.Directive{Name: key, Value: v, Location: loc})
			if key == "syntax" && syntaxOK(v) {
				df.Warnings = append(df.Warnings, fmt.Sprintf("%s:%d: # syntax=%s: strata's built-in frontend (Dockerfile 1.x syntax) is used; the frontend image is not pulled", file, max(1, directiveLine(loc)), v))
			}
		}
	}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		df.Warnings = append(df.Warnings, fmt.Sprintf("%s:%d: %s", file, line, w.Short))
	}
	lint := linter.New(&linter.Config{Warn: func(string, string, string, string, []parser.Range) {}})
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseInstructionWithLinter(n, lint)
		if err != nil {
			return nil, locate(file, n, err)
		}
		if len(df.Stages) == 0 {
			if a, ok := cmd.(*instructions.ArgCommand); ok {
				df.MetaArgs = append(df.MetaArgs, *a)
				continue
			}
		}
		switch c := cmd.(type) {
		case *instructions.Stage:
			df.Stages = append(df.Stages, *c)
		case instructions.Command:
			if len(df.Stages) == 0 {
				return nil, &Error{File: file, Line: n.StartLine,
					Msg: fmt.Sprintf("%s before the first FROM: a Dockerfile must start with FROM (only ARG may come before it)", strings.ToUpper(c.Name()))}
			}
			s := &df.Stages[len(df.Stages)-1]
			s.AddCommand(c)
		default:
			return nil, &Error{File: file, Line: n.StartLine, Msg: fmt.Sprintf("unexpected instruction %T", cmd)}
		}
	}
	if len(df.Stages) == 0 {
		return nil, &Error{File: file, Msg: "no FROM instruction: a Dockerfile needs at least one FROM"}
	}
	return df, nil
}

// locate turns a BuildKit parse error into an Error with the line, and a hint
// where one helps.
func locate(file string, n *parser.Node, err error) error {
	line := 0
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	if line == 0 && n != nil {
		line = n.StartLine
	}
	msg := err.Error()
	var ue *instructions.UnknownInstructionError
	if errors.As(err, &ue) {
		msg = fmt.Sprintf("unknown instruction %s", strings.ToUpper(ue.Instruction))
		if s := suggestInstruction(ue.Instruction); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		} else {
			msg += " (instructions are FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, USER, CMD, ENTRYPOINT, LABEL, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER)"
		}
	}
	msg = strings.TrimPrefix(msg, fmt.Sprintf("dockerfile parse error on line %d: ", line))
	return &Error{File: file, Line: line, Msg: msg, Err: err}
}

var instructionNames = []string{"add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir"}

func suggestInstruction(word string) string {
	word = strings.ToLower(word)
	best, bestD := "", 3
	for _, n := range instructionNames {
		if d := editDistance(word, n); d < bestD {
			best, bestD = n, d
		}
	}
	return strings.ToUpper(best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Lex returns the word expander for this Dockerfile's escape character.
func (df *Dockerfile) Lex() *shell.Lex {
	return shell.NewLex(df.Escape)
}

// Env is an ordered environment used to expand words, with later keys
// overriding earlier ones. It implements shell.EnvGetter.
type Env struct {
	keys []string
	vals map[string]string
}

// NewEnv returns an Env holding the KEY=VALUE pairs of list.
func NewEnv(list []string) *Env {
	e := &Env{vals: map[string]string{}}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		e.Set(k, v)
	}
	return e
}

// Set sets key to value, keeping the key's first position.
func (e *Env) Set(key, value string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	if _, ok := e.vals[key]; !ok {
		e.keys = append(e.keys, key)
	}
	e.vals[key] = value
}

// Get implements shell.EnvGetter.
func (e *Env) Get(key string) (string, bool) {
	v, ok := e.vals[key]
	return v, ok
}

// Keys implements shell.EnvGetter.
func (e *Env) Keys() []string { return append([]string(nil), e.keys...) }

// List returns KEY=VALUE pairs in order.
func (e *Env) List() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// Clone returns an independent copy.
func (e *Env) Clone() *Env {
	c := &Env{keys: append([]string(nil), e.keys...), vals: make(map[string]string, len(e.vals))}
	for k, v := range e.vals {
		c.vals[k] = v
	}
	return c
}

// Expand expands one word with env, naming the instruction's line on error.
func (df *Dockerfile) Expand(lex *shell.Lex, loc []parser.Range, word string, env shell.EnvGetter) (string, error) {
	out, _, err := lex.ProcessWord(word, env)
	if err != nil {
		return "", Errorf(df.File, loc, "expanding %q: %w", word, err)
	}
	return out, nil
}
