package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The helpers of the cache tests are prefixed with cache.

// cacheBuild builds ctx with plain progress and returns stderr and the image ID.
func cacheBuild(t *testing.T, s *strata, ctx string, args ...string) (string, string) {
	t.Helper()
	iid := filepath.Join(t.TempDir(), "iid")
	r := s.must(append(append([]string{"build", "--progress=plain", "--iidfile", iid}, args...), ctx)...)
	id, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	return r.stderr, string(id)
}

// cacheWant checks the status of the steps named like each key.
func cacheWant(t *testing.T, out string, want map[string]string) {
	t.Helper()
	steps := bldParsePlain(t, out)
	for substr, status := range want {
		if got := bldFind(t, steps, substr).status; got != status {
			t.Errorf("step %q is %s, want %s; progress:\n%s", substr, got, status, out)
		}
	}
}

// cacheFileSteps returns the steps that run or copy files (RUN, COPY, ADD).
func cacheFileSteps(t *testing.T, out string) []*bldStep {
	t.Helper()
	var steps []*bldStep
	for _, s := range bldParsePlain(t, out) {
		for _, kw := range []string{"] RUN ", "] COPY ", "] ADD "} {
			if strings.Contains(s.name, kw) {
				steps = append(steps, s)
			}
		}
	}
	return steps
}

func cacheWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestCacheSecondBuildIsAllCached(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\n" +
		"RUN echo one > /one\n" +
		"COPY app.txt /app/app.txt\n" +
		"WORKDIR /app\n" +
		"RUN cat app.txt > copy.txt\n" +
		"ENV X=1\n" +
		"CMD [\"cat\", \"/app/copy.txt\"]\n"
	ctx := bldContext(t, df, map[string]string{"app.txt": "app\n"})
	out1, id1 := cacheBuild(t, s, ctx)
	steps := cacheFileSteps(t, out1)
	if len(steps) != 3 {
		t.Fatalf("%d RUN/COPY steps in the first build, want 3:\n%s", len(steps), out1)
	}
	for _, st := range steps {
		if st.status != "DONE" {
			t.Errorf("first build: %q is %s, want DONE", st.name, st.status)
		}
	}
	out2, id2 := cacheBuild(t, s, ctx)
	steps = cacheFileSteps(t, out2)
	if len(steps) != 3 {
		t.Fatalf("%d RUN/COPY steps in the second build, want 3:\n%s", len(steps), out2)
	}
	for _, st := range steps {
		if st.status != "CACHED" {
			t.Errorf("second build: %q is %s, want CACHED\n%s", st.name, st.status, out2)
		}
	}
	if id1 != id2 {
		t.Errorf("the second build made image %s, the first %s: want the same", id2, id1)
	}
}

func TestCacheContextEditRerunsFromItsCopy(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\n" +
		"RUN echo before > /before\n" +
		"COPY app.txt /app.txt\n" +
		"RUN cat /app.txt > /after\n"
	ctx := bldContext(t, df, map[string]string{"app.txt": "version 1\n"})
	cacheBuild(t, s, ctx, "-t", "edit")
	cacheWrite(t, filepath.Join(ctx, "app.txt"), "version 2\n", 0o644)
	out, _ := cacheBuild(t, s, ctx, "-t", "edit")
	cacheWant(t, out, map[string]string{
		"RUN echo before":  "CACHED",
		"COPY app.txt":     "DONE",
		"RUN cat /app.txt": "DONE",
	})
	if got := bldFile(t, bldExport(t, s, "edit"), "after"); got != "version 2\n" {
		t.Errorf("/after = %q, want the edited content", got)
	}
}

func TestCacheBuildArgValue(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\n" +
		"RUN echo static > /static\n" +
		"ARG FLAVOR\n" +
		"RUN echo \"$FLAVOR\" > /flavor\n"
	ctx := bldContext(t, df, nil)
	cacheBuild(t, s, ctx, "-t", "flavor", "--build-arg", "FLAVOR=vanilla")
	out, _ := cacheBuild(t, s, ctx, "-t", "flavor", "--build-arg", "FLAVOR=chocolate")
	cacheWant(t, out, map[string]string{"RUN echo static": "CACHED", "RUN echo \"$FLAVOR\"": "DONE"})
	if got := bldFile(t, bldExport(t, s, "flavor"), "flavor"); got != "chocolate\n" {
		t.Errorf("/flavor = %q, want chocolate", got)
	}
	out, _ = cacheBuild(t, s, ctx, "-t", "flavor", "--build-arg", "FLAVOR=vanilla")
	cacheWant(t, out, map[string]string{"RUN echo static": "CACHED", "RUN echo \"$FLAVOR\"": "CACHED"})
	if got := bldFile(t, bldExport(t, s, "flavor"), "flavor"); got != "vanilla\n" {
		t.Errorf("/flavor = %q after going back to vanilla", got)
	}
}

func TestCacheNoCacheRunsEverything(t *testing.T) {
	s := newStrata(t)
	ctx := bldContext(t, "FROM busybox\nRUN echo one > /one\nCOPY f.txt /f.txt\nRUN echo two > /two\n", map[string]string{"f.txt": "f\n"})
	cacheBuild(t, s, ctx)
	out, _ := cacheBuild(t, s, ctx, "--no-cache")
	steps := cacheFileSteps(t, out)
	if len(steps) != 3 {
		t.Fatalf("%d RUN/COPY steps, want 3:\n%s", len(steps), out)
	}
	for _, st := range steps {
		if st.status != "DONE" {
			t.Errorf("--no-cache: %q is %s, want DONE", st.name, st.status)
		}
	}
	if strings.Contains(out, "CACHED") {
		t.Errorf("--no-cache output has CACHED steps:\n%s", out)
	}
}

func TestCacheCopyFromChangedStage(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox AS gen\n" +
		"COPY input.txt /input.txt\n" +
		"RUN tr a-z A-Z < /input.txt > /out.txt\n" +
		"FROM busybox\n" +
		"RUN echo final > /final\n" +
		"COPY --from=gen /out.txt /out.txt\n"
	ctx := bldContext(t, df, map[string]string{"input.txt": "first\n"})
	cacheBuild(t, s, ctx, "-t", "copyfrom")
	cacheWrite(t, filepath.Join(ctx, "input.txt"), "second\n", 0o644)
	out, _ := cacheBuild(t, s, ctx, "-t", "copyfrom")
	cacheWant(t, out, map[string]string{
		"COPY input.txt":           "DONE",
		"RUN tr":                   "DONE",
		"RUN echo final":           "CACHED",
		"COPY --from=gen /out.txt": "DONE",
	})
	if got := bldFile(t, bldExport(t, s, "copyfrom"), "out.txt"); got != "SECOND\n" {
		t.Errorf("/out.txt = %q, want SECOND: a stale COPY --from hit the cache", got)
	}
}

func TestCacheChmodInvalidatesCopy(t *testing.T) {
	s := newStrata(t)
	ctx := bldContext(t, "FROM busybox\nRUN echo one > /one\nCOPY script.sh /script.sh\n", map[string]string{"script.sh": "echo hi\n"})
	cacheBuild(t, s, ctx, "-t", "chmod")
	if err := os.Chmod(filepath.Join(ctx, "script.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, _ := cacheBuild(t, s, ctx, "-t", "chmod")
	cacheWant(t, out, map[string]string{"RUN echo one": "CACHED", "COPY script.sh": "DONE"})
	e, ok := bldExport(t, s, "chmod")["script.sh"]
	if !ok {
		t.Fatal("the image has no /script.sh")
	}
	if got := os.FileMode(e.hdr.Mode).Perm(); got != 0o755 {
		t.Errorf("/script.sh has mode %v, want -rwxr-xr-x", got)
	}
}
