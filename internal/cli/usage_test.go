package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestUsageErrors walks common typing mistakes: each says what is wrong
// (what is missing, by its name in the usage line), then where to read how
// to type it, and never names an internal package.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"tag", "busybox"}, `strata: "strata tag" requires 2 arguments: TARGET_IMAGE is missing (usage: strata tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG] [flags])
See 'strata tag --help'.
`},
		{[]string{"inspect"}, `strata: "strata inspect" requires at least 1 argument: IMAGE is missing (usage: strata inspect [flags] IMAGE...)
See 'strata inspect --help'.
`},
		{[]string{"build"}, `strata: "strata build" requires 1 argument: CONTEXT|-|GIT-URL is missing`},
		{[]string{"df", "x"}, `strata: "strata df" accepts no arguments, got ["x"]
See 'strata df --help'.
`},
		{[]string{"image", "prune", "x"}, `strata: "strata image prune" accepts no arguments, got ["x"]
See 'strata image prune --help'.
`},
		{[]string{"images", "--bogus"}, "strata: unknown flag: --bogus\nSee 'strata images --help'.\n"},
		{[]string{"system", "df", "-z"}, "strata: unknown shorthand flag: 'z' in -z\nSee 'strata system df --help'.\n"},
		{[]string{"bogus"}, "strata: unknown command \"bogus\" for \"strata\"\nSee 'strata --help'.\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Execute(context.Background(), append([]string{"--root", t.TempDir()}, tt.args...), strings.NewReader(""), &out, &errb)
			got := errb.String()
			if code != 1 || !strings.HasPrefix(got, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant it to start with:\n%s", code, got, tt.want)
			}
			for _, internal := range []string{"store:", "output:", "registry:", "cobra"} {
				if strings.Contains(got, internal) {
					t.Errorf("stderr names %q:\n%s", internal, got)
				}
			}
		})
	}
}
