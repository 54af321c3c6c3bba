package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretMount: a RUN reads a --secret from a file and from the
// environment, at the default target and at its own with mode and owner;
// the secret reaches no layer, no history entry, no file of the store, and
// no mount point is left in the image, even under a /run the image has.
func TestSecretMount(t *testing.T) {
	const value = "s3cr3t-7f1c"
	s := newStrata(t)
	df := "FROM busybox\n" +
		"RUN mkdir -p /run/keep && echo kept > /run/keep/k\n" +
		"RUN --mount=type=secret,id=tok,required=true cat /run/secrets/tok | tr a-z A-Z > /seen\n" +
		"RUN --mount=type=secret,id=api,env=API_KEY,required test \"$(echo \"$API_KEY\" | tr a-z A-Z)\" = " + strings.ToUpper(value) + " && echo env-ok > /seen-env\n" +
		"RUN --mount=type=secret,id=tok,target=/etc/app/tok,mode=0440,uid=1000,gid=50 stat -c '%a %u %g' /etc/app/tok > /seen-stat\n" +
		"RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent && echo absent-ok > /seen-absent\n"
	ctx := bldContext(t, df, nil)
	file := filepath.Join(t.TempDir(), "tok")
	cacheWrite(t, file, value, 0o600)
	t.Setenv("STRATA_TEST_API", value)
	s.must("build", "--progress=plain", "-t", "sec", "--secret", "id=tok,src="+file, "--secret", "id=api,env=STRATA_TEST_API", ctx)

	got := s.must("run", "--rm", "sec", "cat", "/seen", "/seen-env", "/seen-stat", "/seen-absent").stdout
	if want := strings.ToUpper(value) + "env-ok\n440 1000 50\nabsent-ok\n"; got != want {
		t.Errorf("the RUNs saw %q, want %q", got, want)
	}
	files := bldExport(t, s, "sec")
	for _, p := range []string{"run/secrets", "run/secrets/tok", "etc/app", "etc/app/tok"} {
		if _, ok := files[p]; ok {
			t.Errorf("the mount point /%s is in the image", p)
		}
	}
	if _, ok := files["run/keep/k"]; !ok {
		t.Error("/run/keep/k, made by the image, is missing")
	}
	for name, e := range files {
		if strings.Contains(e.data, value) {
			t.Errorf("the secret is in the image, in /%s", name)
		}
	}
	hist := s.must("history", "--no-trunc", "sec").stdout + s.must("inspect", "sec").stdout
	if strings.Contains(hist, value) {
		t.Errorf("the secret is in the history or config:\n%s", hist)
	}
	filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(value)) {
			t.Errorf("the secret is in the store, in %s", p)
		}
		return nil
	})
	bldNoMounts(t, s)
	if left, _ := filepath.Glob("/dev/shm/strata-secret-*"); len(left) > 0 {
		t.Errorf("secret files left behind: %v", left)
	}
}

// TestSecretRequiredMissing: a required secret that was not given stops the
// build with the Dockerfile's line and what to pass.
func TestSecretRequiredMissing(t *testing.T) {
	s := newStrata(t)
	ctx := bldContext(t, "FROM busybox\nRUN echo one\nRUN --mount=type=secret,id=npmrc,required=true cat /run/secrets/npmrc\n", nil)
	r := s.run("build", "--progress=plain", ctx)
	if r.code == 0 {
		t.Fatal("the build succeeded without the required secret")
	}
	for _, want := range []string{"Dockerfile:3", `secret "npmrc" is required`, "--secret id=npmrc"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error does not say %q:\n%s", want, r.stderr)
		}
	}
}

// TestSecretFlagForms: --secret id=X alone takes the environment variable X
// when it is set, and the file X otherwise, as docker buildx does.
func TestSecretFlagForms(t *testing.T) {
	s := newStrata(t)
	ctx := bldContext(t, "FROM busybox\nRUN --mount=type=secret,id=FROM_ENV --mount=type=secret,id=fromfile,target=/f cat /run/secrets/FROM_ENV /f > /out\n", nil)
	t.Setenv("FROM_ENV", "env-value\n")
	dir := t.TempDir()
	cacheWrite(t, filepath.Join(dir, "fromfile"), "file-value\n", 0o600)
	cmdCtx, err := filepath.Abs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	s.must("build", "-q", "-t", "forms", "--secret", "id=FROM_ENV", "--secret", "id=fromfile", cmdCtx)
	if got := s.must("run", "--rm", "forms", "cat", "/out").stdout; got != "env-value\nfile-value\n" {
		t.Errorf("the RUN saw %q", got)
	}
	if r := s.run("build", "-q", "--secret", "id=nope,src="+filepath.Join(dir, "missing"), cmdCtx); r.code == 0 || !strings.Contains(r.stderr, "--secret") {
		t.Errorf("a missing secret file: exit %d, %s", r.code, r.stderr)
	}
}
