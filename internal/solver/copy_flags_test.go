package solver

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/fscopy"
)

// TestCopyDestDotIsADirectory: a COPY destination "." (or "") names the
// working directory as a directory, as BuildKit's dispatchCopy adds the
// trailing slash; without it a COPY --link (whose root is empty) or a
// working directory missing from the image made a file of it.
func TestCopyDestDotIsADirectory(t *testing.T) {
	for _, tc := range []struct{ wd, dest, want string }{
		{"/app", ".", "/app/"},
		{"/app", "", "/app/"},
		{"/app", "./", "/app/"},
		{"/app", "x/.", "/app/x/"},
		{"/app", "x", "/app/x"},
		{"/app", "/abs", "/abs"},
		{"", ".", "/"},
		{"/", ".", "/"},
	} {
		t.Run(tc.wd+" "+tc.dest, func(t *testing.T) {
			sr := &stageRun{s: &state{}}
			sr.s.cfg.Config.WorkingDir = tc.wd
			if got := sr.resolvePath(copyDest(tc.dest)); got != tc.want {
				t.Errorf("resolvePath(%q) in %q = %q, want %q", tc.dest, tc.wd, got, tc.want)
			}
		})
	}
}

func TestCopyFlagsSources(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flags   copyFlags
		srcs    []string
		want    []fscopy.Source
		wantDig []string
	}{
		{"plain", copyFlags{}, []string{"./a/b", "*.txt"},
			[]fscopy.Source{{Rel: "a/b"}, {Rel: "*.txt", IsGlob: true}}, []string{"./a/b", "*.txt"}},
		{"parents", copyFlags{parents: true}, []string{"./x/a.txt", "./x/./y/*.txt", "/abs/./b", "src/**/*.go"},
			[]fscopy.Source{{Rel: "x/a.txt", Pivot: "."}, {Rel: "y/*.txt", Pivot: "x", IsGlob: true},
				{Rel: "b", Pivot: "abs"}, {Rel: "src/**/*.go", Pivot: ".", IsGlob: true}},
			[]string{"x/a.txt", "x/y", "abs/b", "src"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.flags.sources(tc.srcs), tc.want); diff != "" {
				t.Errorf("sources (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(tc.flags.digestSources(tc.srcs), tc.wantDig); diff != "" {
				t.Errorf("digestSources (-got +want):\n%s", diff)
			}
		})
	}
}

func TestChecksumAlgorithms(t *testing.T) {
	data := "payload\n"
	sums := map[string]string{}
	for _, a := range []struct {
		algo string
		h    hash.Hash
	}{{"sha256", sha256.New()}, {"sha384", sha512.New384()}, {"sha512", sha512.New()}} {
		a.h.Write([]byte(data))
		sums[a.algo] = a.algo + ":" + hex.EncodeToString(a.h.Sum(nil))
	}
	for _, tc := range []struct{ name, flag, wantErr string }{
		{"sha256", sums["sha256"], ""},
		{"sha384", sums["sha384"], ""},
		{"sha512", sums["sha512"], ""},
		{"none", "", ""},
		{"md5", "md5:d41d8cd98f00b204e9800998ecf8427e", "want sha256:"},
		{"no algorithm", strings.TrimPrefix(sums["sha256"], "sha256:"), "want sha256:"},
		{"short", "sha256:abcd", "want 64 lowercase hex digits"},
		{"upper case", strings.ToUpper(sums["sha256"]), "want sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newChecksum(tc.flag)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, data)
			if got := c.sum(); got != tc.flag {
				t.Errorf("sum = %q, want %q", got, tc.flag)
			}
		})
	}
}

// TestPrivateCacheInstances: a private cache mount takes the cache dir
// when it is free, and another instance (same owner and mode) while it is
// held; a released instance is taken again.
func TestPrivateCacheInstances(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	if err := os.Mkdir(dir, 0o710); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 7, 8); err != nil {
		t.Fatal(err)
	}
	first, l1, err := privateCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, l2, err := privateCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if first != dir || second != dir+"-private-1" {
		t.Errorf("instances %s, %s; want %s and its -private-1", first, second, dir)
	}
	fi, err := os.Stat(second)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o710 || st.Uid != 7 || st.Gid != 8 {
		t.Errorf("the second instance is %v %d:%d, want the first's 0710 7:8", fi.Mode(), st.Uid, st.Gid)
	}
	l1.Close()
	again, l3, err := privateCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again != dir {
		t.Errorf("after the release: %s, want %s", again, dir)
	}
	l2.Close()
	l3.Close()
}

// TestConfigJSONStartInterval: the config of a state with a start
// interval holds Healthcheck.StartInterval in nanoseconds, the rest as
// go-containerregistry writes it, and reads back.
func TestConfigJSONStartInterval(t *testing.T) {
	s := &state{startInterval: 2 * time.Second}
	s.cfg.Config.Healthcheck = &v1.HealthConfig{Test: []string{"CMD", "true"}, Interval: 5 * time.Second}
	raw, err := s.configJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"StartInterval":2000000000`) || !strings.Contains(string(raw), `"Interval":5000000000`) {
		t.Errorf("config %s lacks StartInterval or Interval", raw)
	}
	if got := startIntervalOf(raw); got != 2*time.Second {
		t.Errorf("startIntervalOf = %v, want 2s", got)
	}
	s.startInterval = 0
	plain, err := s.configJSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "StartInterval") || startIntervalOf(plain) != 0 {
		t.Errorf("config without a start interval: %s", plain)
	}
}
