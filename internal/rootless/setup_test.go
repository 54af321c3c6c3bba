package rootless

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const subText = `# a comment
alice:100000:65536
1002:165536:65536
bob:231072:1000
bob:300000:65536
broken:x:65536

carol:400000
`

func TestParseSubIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		user string
		id   int
		want []IDRange
	}{
		{"by name", "alice", 1001, []IDRange{{100000, 65536}}},
		{"by uid", "dave", 1002, []IDRange{{165536, 65536}}},
		{"no passwd entry", "", 1002, []IDRange{{165536, 65536}}},
		{"several", "bob", 1003, []IDRange{{231072, 1000}, {300000, 65536}}},
		{"malformed lines", "broken", 1004, nil},
		{"short line", "carol", 1005, nil},
		{"absent", "eve", 1006, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseSubIDs(subText, tc.user, tc.id)
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("parseSubIDs(%s, %d) (-got +want):\n%s", tc.user, tc.id, diff)
			}
		})
	}
}

func TestPickRange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ranges []IDRange
		want   IDRange
		ok     bool
	}{
		{"none", nil, IDRange{}, false},
		{"too small", []IDRange{{100000, 1000}}, IDRange{}, false},
		{"first big enough", []IDRange{{100000, 1000}, {300000, 65536}, {500000, 70000}}, IDRange{300000, 65536}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pickRange(tc.ranges)
			if got != tc.want || ok != tc.ok {
				t.Errorf("pickRange = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFreeStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		texts []string
		want  int
	}{
		{"empty files", []string{"", ""}, 100000},
		{"after the highest range", []string{subText, "x:500000:10"}, 500010},
		{"low ranges only", []string{"a:1000:10"}, 100000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := freeStart(tc.texts...); got != tc.want {
				t.Errorf("freeStart = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSetupErrorListsEveryProblem(t *testing.T) {
	err := &SetupError{User: "bob (uid 1001)", Problems: []string{"newuidmap not found: install it", "no range: add one"}}
	got := err.Error()
	want := "rootless: running strata as bob (uid 1001) needs setup that is missing:\n" +
		"  - newuidmap not found: install it\n  - no range: add one\n(or run strata as root)"
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Error() (-got +want):\n%s", diff)
	}
	if strings.Count(got, "rootless:") != 1 {
		t.Errorf("want one error, got %q", got)
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"6.18.0-1-amd64", true},
		{"5.11.0", true},
		{"5.10.0-28-amd64", false},
		{"4.19.0", false},
		{"5.15-rc1", true},
		{"garbage", true},
	} {
		t.Run(tc.release, func(t *testing.T) {
			if got := kernelAtLeast(tc.release, 5, 11); got != tc.want {
				t.Errorf("kernelAtLeast(%q, 5, 11) = %v, want %v", tc.release, got, tc.want)
			}
		})
	}
}
