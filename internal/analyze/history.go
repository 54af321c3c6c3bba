package analyze

import (
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/dockerfile"
)

// historyRows returns one row per history entry of cfg, oldest first, the
// non-empty ones numbered with their layer. An image without history gets
// one row per layer; layers the history does not cover get rows too.
func historyRows(cfg *v1.ConfigFile, layers int) []Row {
	var rows []Row
	li := 0
	for _, h := range cfg.History {
		r := Row{Layer: -1, CreatedBy: h.CreatedBy, Instruction: Instruction(h.CreatedBy)}
		if r.Instruction == "" {
			r.Instruction = strings.TrimSpace(h.Comment)
		}
		if !h.EmptyLayer && li < layers {
			r.Layer = li
			li++
		}
		rows = append(rows, r)
	}
	for ; li < layers; li++ {
		rows = append(rows, Row{Layer: li})
	}
	return rows
}

// Instruction turns a history created_by into the Dockerfile instruction it
// records, as docker history users read it: BuildKit's "RUN /bin/sh -c make
// # buildkit" and "RUN |1 V=2 /bin/sh -c make" and the legacy builder's
// "/bin/sh -c make" become "RUN make"; "/bin/sh -c #(nop)  CMD [\"x\"]"
// becomes "CMD [\"x\"]".
func Instruction(createdBy string) string {
	s := strings.TrimSpace(createdBy)
	s = strings.TrimSpace(strings.TrimSuffix(s, "# buildkit"))
	if rest, ok := strings.CutPrefix(s, "/bin/sh -c #(nop)"); ok {
		return strings.TrimSpace(rest)
	}
	run := false
	if rest, ok := strings.CutPrefix(s, "RUN "); ok {
		s, run = strings.TrimSpace(rest), true
	}
	if strings.HasPrefix(s, "|") {
		// "|N K=V … cmd": drop the N build args.
		f := strings.SplitN(s, " ", 2)
		if n, err := strconv.Atoi(f[0][1:]); err == nil && len(f) == 2 {
			parts := strings.SplitN(f[1], " ", n+1)
			if len(parts) == n+1 {
				s, run = parts[n], true
			}
		}
	}
	if rest, ok := strings.CutPrefix(s, "/bin/sh -c "); ok {
		s, run = strings.TrimSpace(rest), true
	}
	if run {
		return "RUN " + s
	}
	return s
}

// keyword returns the instruction's first word, upper-cased.
func keyword(ins string) string {
	f := strings.Fields(ins)
	if len(f) == 0 {
		return ""
	}
	return strings.ToUpper(f[0])
}

// matchLines sets Line on the rows that df's target stage (the last one when
// target is "") and the stages it is built FROM made. Rows and instructions are paired from the end by
// their keyword; instructions with no history entry are skipped, and the
// rows left when the stages run out belong to the base image.
func matchLines(rows []Row, df *dockerfile.Dockerfile, target string) {
	stage := len(df.Stages) - 1
	if target != "" {
		stage = findStage(df.Stages, len(df.Stages), target)
	}
	if stage < 0 {
		return
	}
	cmds := df.Stages[stage].Commands
	c := len(cmds) - 1
	for i := len(rows) - 1; i >= 0; {
		if c < 0 {
			stage = baseStage(df.Stages, stage)
			if stage < 0 {
				return
			}
			cmds = df.Stages[stage].Commands
			c = len(cmds) - 1
			continue
		}
		if keyword(rows[i].Instruction) == strings.ToUpper(cmds[c].Name()) {
			rows[i].Line = dockerfile.Line(cmds[c].Location())
			i--
		}
		c--
	}
}

// baseStage returns the index of the stage stages[i] is built FROM, or -1
// when it starts from an image.
func baseStage(stages []instructions.Stage, i int) int {
	return findStage(stages, i, stages[i].BaseName)
}

// findStage returns the index of the stage before stages[before] named or
// numbered ref, or -1.
func findStage(stages []instructions.Stage, before int, ref string) int {
	ref = strings.ToLower(ref)
	for j := before - 1; j >= 0; j-- {
		if strings.ToLower(stages[j].Name) == ref || strconv.Itoa(j) == ref {
			return j
		}
	}
	return -1
}
