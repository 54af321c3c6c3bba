package e2e

import (
	"strings"
	"testing"
)

// TestMultiRunMountBindFrom: a RUN sees another stage's files through
// --mount=type=bind,from=, and none of them lands in the image.
func TestMultiRunMountBindFrom(t *testing.T) {
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": `FROM busybox AS tools
RUN mkdir -p /opt && echo tool-data > /opt/tool.txt
FROM busybox
RUN --mount=type=bind,from=tools,target=/mnt cat /mnt/opt/tool.txt > /seen
RUN --mount=type=bind,from=tools,target=/mnt,rw echo scratch > /mnt/opt/tmp && cat /mnt/opt/tmp > /seen-rw
RUN --mount=type=tmpfs,target=/scratch echo gone > /scratch/x
RUN --mount=type=cache,target=/var/cache/x echo kept >> /var/cache/x/log
`})
	s.must("build", "-t", "mnt", ctx)
	if got := s.must("run", "--rm", "mnt", "cat", "/seen", "/seen-rw").stdout; got != "tool-data\nscratch\n" {
		t.Fatalf("the RUNs saw %q, want the tools stage's file and their own scratch write", got)
	}
	list := s.must("run", "--rm", "mnt", "sh", "-c", "ls -A /mnt /scratch /var/cache/x 2>&1; true").stdout
	for _, leak := range []string{"opt", "tool.txt", "log"} {
		if strings.Contains(list, leak) {
			t.Fatalf("a mounted file leaked into the image:\n%s", list)
		}
	}
	if m := mountsUnder(s.root); len(m) > 0 {
		t.Fatalf("mounts left behind: %v", m)
	}
}
