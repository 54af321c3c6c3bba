package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// psNoEtcImage loads into s the image noetc: busybox and a layer that
// replaces /etc with an opaque directory holding only motd, so that the
// base's /etc/passwd and /etc/group are deleted for everything above.
func psNoEtcImage(t *testing.T, s *strata) {
	t.Helper()
	dir := t.TempDir()
	base := filepath.Join(dir, "busybox.tar")
	s.must("save", "-o", base, "busybox:latest")
	img, err := tarball.ImageFromPath(base, nil)
	if err != nil {
		t.Fatalf("reading the saved busybox: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/.wh..wh..opq", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte("hi\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "noetc.tar")
	if err := tarball.WriteToFile(out, name.MustParseReference("noetc:latest"), img); err != nil {
		t.Fatalf("writing the noetc archive: %v", err)
	}
	s.must("load", "-q", "-i", out)
}

// TestRunUserThroughWhiteouts: `strata run` resolves USER in the /etc/passwd
// the image shows, as a RUN does, not in one a later layer deleted.
func TestRunUserThroughWhiteouts(t *testing.T) {
	s := newStrata(t)
	psNoEtcImage(t, s)
	const who = `echo "who: $(id -u):$(id -g):$HOME"`
	r := s.must("build", "--progress=plain", "-t", "who", bldContext(t, "FROM noetc\nUSER 1000\nRUN "+who+"\n", nil))
	built := isoLog(t, bldLogs(t, r.stderr), "who: ")
	if built != "1000:0:/" {
		t.Errorf("a RUN as USER 1000 without /etc/passwd is %q, want 1000:0:/ (uid as is, gid 0, HOME /)", built)
	}
	run := strings.TrimSpace(s.must("run", "-u", "1000", "noetc", "sh", "-c", who).stdout)
	if got := strings.TrimPrefix(run, "who: "); got != built {
		t.Errorf("strata run -u 1000 is %q, a RUN %q: want the same", got, built)
	}

	rb := s.run("build", "-t", "who2", bldContext(t, "FROM noetc\nUSER app\nRUN true\n", nil))
	rr := s.run("run", "-u", "app", "noetc", "true")
	for _, c := range []struct {
		what string
		r    result
	}{{"build with USER app", rb}, {"run -u app", rr}} {
		if c.r.code == 0 || !strings.Contains(c.r.stderr, `user "app": the image has no /etc/passwd`) {
			t.Errorf("%s: exit %d, stderr %q; want a failure saying the image has no /etc/passwd", c.what, c.r.code, c.r.stderr)
		}
	}
}

// TestRunHostsLikeBuild: a RUN and `strata run` see the same /etc/hosts,
// /etc/resolv.conf and hostname, in either network, when the container is
// given a RUN's host name (by default it has its own container ID, as
// TestRunDockerFlags checks).
func TestRunHostsLikeBuild(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\nRUN cp /etc/hosts /seen-hosts && cp /etc/resolv.conf /seen-resolv && hostname > /seen-hostname\n"
	for _, network := range []string{"host", "none"} {
		t.Run(network, func(t *testing.T) {
			tag := "seen-" + network
			s.must("build", "--network", network, "-t", tag, bldContext(t, df, nil))
			e := bldExport(t, s, tag)
			for _, f := range []struct{ path, seen string }{{"/etc/hosts", "seen-hosts"}, {"/etc/resolv.conf", "seen-resolv"}} {
				got := s.must("run", "--network", network, "--hostname", "strata", "busybox", "cat", f.path).stdout
				if want := bldFile(t, e, f.seen); got != want {
					t.Errorf("strata run --network %s: %s is %q, a RUN's %q: want the same", network, f.path, got, want)
				}
			}
			got := s.must("run", "--network", network, "--hostname", "strata", "busybox", "hostname").stdout
			if want := bldFile(t, e, "seen-hostname"); got != want {
				t.Errorf("strata run --network %s: hostname %q, a RUN's %q", network, got, want)
			}
		})
	}
}
