package analyze

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-build/strata/internal/dockerfile"
)

func TestCopyUp(t *testing.T) {
	df, err := dockerfile.Parse("Dockerfile", []byte("FROM base\nRUN make data\nRUN touch /data/a /data/b && date > /data/c\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep := analyzeOf(t, Options{Dockerfile: df},
		step{createdBy: "base", specs: []string{"etc/", "etc/os=100"}},
		step{createdBy: "RUN /bin/sh -c make data # buildkit", specs: []string{"data/", "data/a=30000", "data/b=20000", "data/c=40000"}},
		// The same random bytes again for a and b (tarOf's fixed seed), others for c.
		step{createdBy: "RUN /bin/sh -c touch /data/a /data/b && date > /data/c # buildkit", specs: []string{"data/", "data/a=30000", "data/b=20000", "data/c=z40000"}},
	)
	type short struct {
		Kind  Kind
		Layer int
		Line  int
		Bytes int64
		Paths []string
	}
	var got []short
	var copyUp Finding
	for _, fd := range rep.Findings {
		got = append(got, short{fd.Kind, fd.Layer, fd.Line, fd.Bytes, fd.Paths})
		if fd.Kind == CopyUp {
			copyUp = fd
		}
	}
	want := []short{
		{CopyUp, 2, 3, 50000, []string{"/data/a", "/data/b"}},
		{Overwritten, 2, 3, 40000, []string{"/data/c"}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("findings (-got +want):\n%s", diff)
	}
	wantMsg := "RUN touch /data/a /data/b && date > /data/c copies 2 files of layer 1 (Dockerfile:2) whole into its layer with the same content (2 with nothing changed but the time): 50kB are in the image twice"
	if copyUp.Message != wantMsg {
		t.Errorf("message = %q, want %q", copyUp.Message, wantMsg)
	}
	wantFix := "do the chmod/chown in the RUN that creates the files, layer 1 (Dockerfile:2) (RUN make data), not in a later one; or build with --squash"
	if copyUp.Fix != wantFix {
		t.Errorf("fix = %q, want %q", copyUp.Fix, wantFix)
	}
}

// TestBookkeeping: dpkg's database rewritten by each install is one
// bookkeeping finding for the image, not an overwrite per layer.
func TestBookkeeping(t *testing.T) {
	df, err := dockerfile.Parse("Dockerfile", []byte("FROM base\nRUN apt-get install -y a\nRUN apt-get install -y b\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep := analyzeOf(t, Options{Dockerfile: df},
		step{createdBy: "base", specs: []string{"var/lib/dpkg/status=300000", "var/log/dpkg.log=20000"}},
		step{createdBy: "RUN /bin/sh -c apt-get install -y a # buildkit", specs: []string{"var/lib/dpkg/status=z310000", "var/log/dpkg.log=z21000", "usr/bin/a=1000"}},
		step{createdBy: "RUN /bin/sh -c apt-get install -y b # buildkit", specs: []string{"var/lib/dpkg/status=z320000", "var/log/dpkg.log=z22000", "usr/bin/b=1000"}},
	)
	if got, want := kinds(rep.Findings), []Kind{Bookkeeping}; !cmp.Equal(got, want) {
		t.Fatalf("findings %v, want %v: %+v", got, want, rep.Findings)
	}
	fd := rep.Findings[0]
	if fd.Bytes != 300000+20000+310000+21000 || fd.Layer != 2 || fd.Line != 3 {
		t.Errorf("bookkeeping finding = %+v, want %d bytes at layer 2, line 3", fd, 300000+20000+310000+21000)
	}
	wantFix := "install all packages in one RUN (or in a build stage) to write the database once; the base image's copy stays unless you --squash-all"
	if fd.Fix != wantFix {
		t.Errorf("fix = %q, want %q", fd.Fix, wantFix)
	}
}

func TestWastedTree(t *testing.T) {
	rep := analyzeOf(t, Options{},
		step{specs: []string{"opt/", "opt/a=3000", "opt/b=1000", "etc/", "etc/c=500"}},
		step{specs: []string{".wh.opt", "etc/c=600"}},
	)
	got := rep.WastedTree
	want := &Node{Name: "/", Size: 4500, Children: []*Node{
		{Name: "opt", Size: 4000, Children: []*Node{{Name: "a", Size: 3000}, {Name: "b", Size: 1000}}},
		{Name: "etc", Size: 500, Children: []*Node{{Name: "c", Size: 500}}},
	}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("wasted tree (-got +want):\n%s", diff)
	}
	if rep.WastedTree.Size != rep.Wasted {
		t.Errorf("wasted tree %d bytes, want the wasted %d", rep.WastedTree.Size, rep.Wasted)
	}
}
