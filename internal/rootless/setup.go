package rootless

import (
	"fmt"
	"strconv"
	"strings"
)

// MinRange is the smallest subordinate id range Check accepts: enough for
// every id an image commonly uses (nobody is 65534).
const MinRange = 65536

// Options tells Enter what the child needs from the parent.
type Options struct {
	// Root is the store root the user's strata uses (store.DefaultRoot as
	// computed before entering). It is passed to the child in STRATA_ROOT,
	// unless that is already set, because the child runs as uid 0.
	Root string
}

// IDRange is a range of subordinate ids: Count ids from Start.
type IDRange struct {
	Start, Count int
}

// Setup is what entering a user namespace needs, as Check found it.
type Setup struct {
	// User is the user's name ("" when the uid has no passwd entry).
	User string
	// UID and GID are the user's real ids.
	UID, GID int
	// SubUID and SubGID are the ranges mapped to ids 1 and up.
	SubUID, SubGID IDRange
	// NewUIDMap and NewGIDMap are the paths of the setuid helpers.
	NewUIDMap, NewGIDMap string
}

// SetupError lists everything missing for rootless use, each with the
// command that fixes it.
type SetupError struct {
	// User names the user ("bob (uid 1001)").
	User string
	// Problems are the missing pieces, one sentence each.
	Problems []string
}

// Error returns the problems as one message.
func (e *SetupError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rootless: running strata as %s needs setup that is missing:", e.User)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	b.WriteString("\n(or run strata as root)")
	return b.String()
}

// parseSubIDs returns the ranges /etc/subuid or /etc/subgid text gives the
// user, by name or by numeric id, in file order.
func parseSubIDs(text, name string, id int) []IDRange {
	var out []IDRange
	idText := strconv.Itoa(id)
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || (f[0] != idText && (name == "" || f[0] != name)) {
			continue
		}
		start, err1 := strconv.Atoi(f[1])
		count, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || start < 0 || count <= 0 {
			continue
		}
		out = append(out, IDRange{Start: start, Count: count})
	}
	return out
}

// pickRange returns the first range of at least MinRange ids.
func pickRange(ranges []IDRange) (IDRange, bool) {
	for _, r := range ranges {
		if r.Count >= MinRange {
			return r, true
		}
	}
	return IDRange{}, false
}

// freeStart returns where a new range of MinRange ids may start without
// overlapping any range the files' texts already give out: 100000, or the
// end of the highest range.
func freeStart(texts ...string) int {
	start := 100000
	for _, text := range texts {
		for _, line := range strings.Split(text, "\n") {
			f := strings.Split(strings.TrimSpace(line), ":")
			if len(f) != 3 {
				continue
			}
			s, err1 := strconv.Atoi(f[1])
			c, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil && s+c > start {
				start = s + c
			}
		}
	}
	return start
}

// kernelAtLeast reports whether the kernel release ("6.18.0-1-amd64") is at
// least major.minor; an unreadable release passes.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return true
	}
	maj, err1 := strconv.Atoi(parts[0])
	digits := parts[1]
	if i := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		digits = parts[1][:i]
	}
	min, err2 := strconv.Atoi(digits)
	if err1 != nil || err2 != nil {
		return true
	}
	return maj > major || (maj == major && min >= minor)
}
