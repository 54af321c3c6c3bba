package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseKind(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Kind
		wantErr error
	}{
		{"", KindOverlay, nil},
		{"overlay", KindOverlay, nil},
		{"native", KindNative, nil},
		{"auto", KindAuto, nil},
		{"vfs", "", ErrUnknownKind},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKind(tt.in)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestAutoFallsBackToNative asks for auto where overlayfs works (a plain
// directory) and where it cannot (inside an overlay mount, which the kernel
// refuses as an upper dir), and wants overlay, then native and one notice.
func TestAutoFallsBackToNative(t *testing.T) {
	requireRoot(t)
	plain := t.TempDir()
	sn, err := New(KindAuto, Options{Dir: plain, Notice: func(msg string) { t.Errorf("unexpected notice: %s", msg) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sn.(*Overlay); !ok {
		t.Errorf("auto in a plain dir: got %T, want *Overlay", sn)
	}
	base := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inMountNS(t, func() error {
		m := Mount{Lower: []string{filepath.Join(base, "lower")}, Upper: filepath.Join(base, "upper"), Work: filepath.Join(base, "work")}
		if err := m.Apply(filepath.Join(base, "merged")); err != nil {
			return err
		}
		var notices []string
		sn, err := New(KindAuto, Options{Dir: filepath.Join(base, "merged"), Notice: func(msg string) { notices = append(notices, msg) }})
		if err != nil {
			return err
		}
		t.Logf("notices: %q", notices)
		if _, ok := sn.(*Native); !ok || len(notices) != 1 {
			t.Errorf("auto on an overlay: got %T and notices %q, want *Native and one notice", sn, notices)
		}
		return nil
	})
}
