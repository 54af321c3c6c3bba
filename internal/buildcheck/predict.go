package buildcheck

import (
	"fmt"

	units "github.com/docker/go-units"

	"github.com/strata-build/strata/internal/analyze"
)

// findingKinds are the analyze findings that measure what each of strata's
// rules predicts.
var findingKinds = map[string][]analyze.Kind{
	DeletedLater:         {analyze.DeletedLater},
	AddArchiveThenRemove: {analyze.DeletedLater},
	ChmodAfterCopy:       {analyze.CopyUp, analyze.Overwritten},
	AptListsLeft:         {analyze.PackageCache},
	PackageCacheLeft:     {analyze.PackageCache},
	CompilerInFinalStage: {analyze.BuildTools},
}

// sourceBytes returns the bytes of fd that the instruction at line wrote,
// all of them when line is 0 or fd names no sources.
func sourceBytes(fd analyze.Finding, line int) int64 {
	if line == 0 || len(fd.Sources) == 0 {
		return fd.Bytes
	}
	var n int64
	for _, s := range fd.Sources {
		if s.Line == line {
			n += s.Bytes
		}
	}
	return n
}

// Predict puts bytes on the violations of res from rep, the analysis of an
// earlier build of the same Dockerfile (analyzed with it, so that findings
// carry lines): a rule's violation gets the bytes of the findings of its
// kind at its line. Violations with no such finding keep their kind only.
func Predict(res *Result, rep *analyze.Report) {
	for i := range res.Violations {
		v := &res.Violations[i]
		kinds := findingKinds[v.Rule]
		var bytes int64
		for _, fd := range rep.Findings {
			if fd.Line != v.Line {
				continue
			}
			for _, k := range kinds {
				if fd.Kind == k {
					bytes += sourceBytes(fd, v.SourceLine)
				}
			}
		}
		if bytes > 0 {
			v.Bytes = bytes
			v.Message += fmt.Sprintf(" (this will waste about %s, as the earlier build of these steps does)", units.HumanSizeWithPrecision(float64(bytes), 3))
		}
	}
}
