package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode/utf8"

	units "github.com/docker/go-units"
)

// templateFuncs are the functions docker offers in --format templates.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return ""
		}
		return strings.TrimSpace(buf.String())
	},
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    strings.Title, //nolint:staticcheck // docker's title, ASCII only
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
	"truncate": truncateRunes,
	"println":  func(args ...any) string { return fmt.Sprintln(args...) },
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if n < 0 || len(r) <= n {
		return s
	}
	return string(r[:n])
}

// parseTemplate parses a --format template with docker's functions, after
// turning the escapes \t and \n into the characters, as docker does.
func parseTemplate(format string) (*template.Template, error) {
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	return t, nil
}

// listing describes how a list command renders its rows: the default table
// template and the column header of every field.
type listing struct {
	defaultTable string            // "table {{.A}}\t{{.B}}"
	headers      map[string]string // field → column header
}

// render writes rows with format, docker's way: "" is the default table,
// "table T" is T with a header row aligned by a tabwriter, "json" is
// "{{json .}}", and any other template is executed once per row, each result
// followed by a newline.
func (l listing) render(w io.Writer, format string, rows []any) error {
	switch strings.TrimSpace(format) {
	case "":
		format = l.defaultTable
	case "table":
		format = l.defaultTable
	case "json":
		format = "{{json .}}"
	}
	table := false
	if rest, ok := strings.CutPrefix(format, "table"); ok {
		table, format = true, strings.TrimSpace(rest)
	}
	t, err := parseTemplate(format)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if table {
		hdr := map[string]string{}
		for k, v := range l.headers {
			hdr[k] = v
		}
		if err := t.Execute(&buf, hdr); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		buf.WriteByte('\n')
	}
	for _, r := range rows {
		if err := t.Execute(&buf, r); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		buf.WriteByte('\n')
	}
	if !table {
		_, err := w.Write(buf.Bytes())
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	if _, err := tw.Write(buf.Bytes()); err != nil {
		return err
	}
	return tw.Flush()
}

// writeJSON writes v as indented JSON (four spaces, HTML left alone), as
// `docker inspect` prints.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	return enc.Encode(v)
}

// humanSize formats a byte count as docker does: SI units, three significant
// digits ("2.15MB", "0B").
func humanSize(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), 3)
}

// humanSince formats the time since t as docker does: "About a minute ago",
// "3 days ago".
func humanSince(t, now time.Time) string {
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// ellipsis shortens s to max runes, ending it with "…", as docker's
// truncated columns do.
func ellipsis(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= 1 {
		return truncateRunes(s, max)
	}
	return truncateRunes(s, max-1) + "…"
}

// shortID returns the 12 hex digits docker shows for an ID ("sha256:…").
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
