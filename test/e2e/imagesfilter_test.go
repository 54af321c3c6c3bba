package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestImagesFilter: images --filter dangling=, reference=, before=, since=
// and label=, alone, together and with -q, as docker images filters; and
// image ls is the same command.
func TestImagesFilter(t *testing.T) {
	s := newStrata(t)
	id := func(ref string) string {
		return strings.TrimPrefix(strings.TrimSpace(s.must("inspect", "-f", "{{.Id}}", ref).stdout), "sha256:")[:12]
	}
	// Created times are seconds apart, so that before and since order them.
	s.must("build", "-q", "-t", "app:1", bldContext(t, "FROM busybox\nLABEL team=web tier=front\nRUN echo 1 > /v\n", nil))
	time.Sleep(1100 * time.Millisecond)
	dangling := strings.TrimPrefix(strings.TrimSpace(s.must("build", "-q", bldContext(t, "FROM busybox\nRUN echo d > /d\n", nil)).stdout), "sha256:")[:12]
	time.Sleep(1100 * time.Millisecond)
	s.must("build", "-q", "-t", "tool:2", bldContext(t, "FROM busybox\nLABEL team=ops\nRUN echo 2 > /v\n", nil))
	busybox, app, tool := id("busybox"), id("app:1"), id("tool:2")

	tests := []struct {
		filters []string
		want    string
	}{
		{[]string{"dangling=true"}, dangling},
		{[]string{"dangling=false"}, tool + " " + app + " " + busybox},
		{[]string{"reference=app"}, app},
		{[]string{"reference=*:2"}, tool},
		{[]string{"reference=app", "reference=tool"}, tool + " " + app},
		{[]string{"label=team"}, tool + " " + app},
		{[]string{"label=team=web"}, app},
		{[]string{"label=team=web", "label=tier=back"}, ""},
		{[]string{"before=tool:2"}, dangling + " " + app + " " + busybox},
		{[]string{"since=app:1"}, tool + " " + dangling},
		{[]string{"since=" + app[:5], "dangling=false"}, tool},
		{[]string{"before=tool:2", "label=team"}, app},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.filters, ","), func(t *testing.T) {
			args := []string{"images", "-q"}
			for _, f := range tt.filters {
				args = append(args, "--filter", f)
			}
			got := strings.Join(strings.Fields(s.must(args...).stdout), " ")
			if got != tt.want {
				t.Errorf("%v: %q, want %q", args, got, tt.want)
			}
			args[0] = "image"
			args = append([]string{"image", "ls"}, args[1:]...)
			if got2 := strings.Join(strings.Fields(s.must(args...).stdout), " "); got2 != got {
				t.Errorf("image ls: %q, images: %q", got2, got)
			}
		})
	}
	for _, bad := range []struct{ filter, want string }{
		{"dangling=maybe", `"maybe" is not true or false`},
		{"until=1h", `unknown key "until"`},
		{"since=nosuch", "no such image: nosuch:latest"},
	} {
		r := s.run("images", "--filter", bad.filter)
		if r.code == 0 || !strings.Contains(r.stderr, bad.want) {
			t.Errorf("--filter %s: exit %d, stderr %q, want %q", bad.filter, r.code, r.stderr, bad.want)
		}
	}
}
