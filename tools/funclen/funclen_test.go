// Package funclen holds the check that no function outside tests is longer
// than maxLines: go test ./tools/funclen lists every one that is.
package funclen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maxLines is the longest a function may be, from its func line to its
// closing brace.
const maxLines = 100

// maxRunELines is the longest a cobra command's RunE function literal may be:
// a subcommand is flags → options → one library call → print.
const maxRunELines = 50

// known are the offenders when this check came; each entry must still be over
// the limit, so the list only shrinks (the solver's doCopy, run and meta
// left it when it was split into one dispatch function per instruction).
var known = map[string]bool{}

// longFunc is one function over the limit.
type longFunc struct {
	pos   string // file:line, relative to the repository root
	name  string // package-relative name: Func or Type.Method
	lines int
	max   int // the limit it is over
}

func (f longFunc) key() string { return filepath.Dir(strings.SplitN(f.pos, ":", 2)[0]) + "." + f.name }

func TestNoLongFunctions(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("finding the repository root: %v", err)
	}
	long, err := findLong(root, maxLines)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range long {
		seen[f.key()] = true
		if !known[f.key()] {
			t.Errorf("%s: %s is %d lines, over %d: split it", f.pos, f.name, f.lines, f.max)
		}
	}
	for k := range known {
		if !seen[k] {
			t.Errorf("%s is no longer over %d lines: take it off the known list", k, maxLines)
		}
	}
}

// findLong returns the functions in non-test Go files under root longer than
// max lines, sorted by position.
func findLong(root string, max int) ([]longFunc, error) {
	var out []longFunc
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
			if n := end - start + 1; n > max {
				out = append(out, longFunc{pos: fmt.Sprintf("%s:%d", rel, start), name: funcName(fn), lines: n, max: max})
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			key, ok := kv.Key.(*ast.Ident)
			lit, isLit := kv.Value.(*ast.FuncLit)
			if !ok || !isLit || key.Name != "RunE" {
				return true
			}
			start, end := fset.Position(lit.Pos()).Line, fset.Position(lit.End()).Line
			if n := end - start + 1; n > maxRunELines {
				out = append(out, longFunc{pos: fmt.Sprintf("%s:%d", rel, start), name: fmt.Sprintf("RunE@%d", start), lines: n, max: maxRunELines})
			}
			return true
		})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].pos < out[j].pos })
	return out, err
}

// funcName is Name for a function and Type.Name for a method.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.Ident:
		return x.Name + "." + fn.Name.Name
	case *ast.IndexExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			return id.Name + "." + fn.Name.Name
		}
	}
	return fn.Name.Name
}
