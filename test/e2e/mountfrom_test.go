package e2e

import (
	"testing"
)

// TestRunMountCacheFromSource: a cache mount with from= starts with the
// files of source= of that stage (owners kept) and then lives on as a
// cache; source= alone mounts a subdirectory of the cache; a bind mount's
// source= picks a file or directory of an image (BuildKit's reference.md:
// "from: build stage, context, or image name to use as a base of the cache
// mount"; "source: subpath in the from to mount").
func TestRunMountCacheFromSource(t *testing.T) {
	s := newStrata(t)
	s.must("build", "-t", "toolimg", writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN mkdir -p /opt/tools && echo from-image > /opt/tools/tool.txt\n"}))
	ctx := writeContext(t, map[string]string{"Dockerfile": `FROM busybox AS seed
RUN mkdir -p /deps/sub && echo seeded > /deps/sub/s.txt && chown -R 1000:1000 /deps
FROM busybox
RUN --mount=type=cache,id=c1,target=/c,from=seed,source=/deps sh -c 'cat /c/sub/s.txt; stat -c %u /c/sub/s.txt; echo added > /c/added' > /first
RUN --mount=type=cache,id=c1,target=/c,from=seed,source=/deps sh -c 'cat /c/added' > /second
RUN --mount=type=cache,id=c2,target=/c,source=part sh -c 'echo in-part > /c/p' && true
RUN --mount=type=cache,id=c2,target=/c sh -c 'cat /c/part/p' > /whole
RUN --mount=type=bind,from=toolimg,source=/opt/tools/tool.txt,target=/f.txt cat /f.txt > /bindimg
RUN --mount=type=cache,id=c3,target=/c ln -s /etc /c/evil
RUN --mount=type=cache,id=c3,target=/c,source=evil ls /c | wc -l > /escape
`})
	s.must("build", "-t", "cachefrom", ctx)
	e := bldExport(t, s, "cachefrom")
	for name, want := range map[string]string{
		"first": "seeded\n1000\n", "second": "added\n", "whole": "in-part\n", "bindimg": "from-image\n",
		"escape": "0\n", // a symlink in the cache does not lead to the host's /etc
	} {
		if got := bldFile(t, e, name); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
}
