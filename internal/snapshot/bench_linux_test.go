package snapshot

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// writeBigtree writes bench/bigtree.sh's tree under dir: 200 directories of
// 100 files of about 5 KB, a 100 MB text file and 100 MB of random bytes:
// 20,000 files and 300 MB.
func writeBigtree(dir string) error {
	r := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 4998)
	for d := range 200 {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		for f := range 100 {
			r.Read(buf)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d", f)), buf, 0o644); err != nil {
				return err
			}
		}
	}
	for _, name := range []string{"text.txt", "random.bin"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		big := make([]byte, 1<<20)
		for range 100 {
			r.Read(big)
			if _, err := f.Write(big); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkBigtree times Prepare and Commit (not the step itself) with both
// snapshotters: "lower" prepares over a bigtree layer and commits one
// changed file, "written" commits a bigtree the step wrote over an empty
// root.
func BenchmarkBigtree(b *testing.B) {
	requireRoot(b)
	lower := filepath.Join(b.TempDir(), "layer")
	if err := writeBigtree(lower); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name   string
		lowers []string
		op     func(root string) error
	}{
		{"lower", []string{lower}, write("d7/f7", "changed")},
		{"written", nil, writeBigtree},
	}
	for _, c := range cases {
		for _, kind := range []Kind{KindOverlay, KindNative} {
			b.Run(c.name+"/"+string(kind), func(b *testing.B) {
				sn, err := New(kind, Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					benchStep(b, sn, c.lowers, c.op)
				}
			})
		}
	}
}

// benchStep is one prepare, step (timer stopped) and commit.
func benchStep(b *testing.B, sn Snapshotter, lowers []string, op func(string) error) {
	ctx := context.Background()
	s, err := sn.Prepare(ctx, lowers)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	target, empty := b.TempDir(), b.TempDir()
	inMountNS(b, func() error {
		m := s.Mount()
		m.Empty = empty
		if err := m.Apply(target); err != nil {
			return err
		}
		if err := op(target); err != nil {
			return err
		}
		return unix.Unmount(target, 0)
	})
	b.StartTimer()
	if _, err := sn.Commit(ctx, s); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if err := sn.Remove(s); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}
