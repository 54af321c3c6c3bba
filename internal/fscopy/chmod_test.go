package fscopy

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseModeApply(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		cur   uint32
		isDir bool
		want  uint32
	}{
		{"755", 0o600, false, 0o755},
		{"0644", 0o777, true, 0o644},
		{"4755", 0, false, 0o4755},
		{"u+x", 0o644, false, 0o744},
		{"a=r", 0o4755, false, 0o444},
		{"+x", 0o600, false, 0o711},
		{"go-w", 0o666, false, 0o644},
		{"u=rwx,go=rx", 0o600, false, 0o755},
		{"a+X", 0o600, false, 0o600},
		{"a+X", 0o700, false, 0o711},
		{"a+X", 0o600, true, 0o711},
		{"g=u", 0o640, false, 0o660},
		{"u+s,o+t", 0o755, false, 0o5755},
		{"o+s", 0o755, false, 0o755},
		{"u-w+x", 0o644, false, 0o544},
	} {
		t.Run(fmt.Sprintf("%s on %04o", tc.mode, tc.cur), func(t *testing.T) {
			m, err := ParseMode(tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Apply(tc.cur, tc.isDir); got != tc.want {
				t.Errorf("Apply = %04o, want %04o", got, tc.want)
			}
		})
	}
}

func TestParseModeErrors(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{"", "empty"},
		{"999", "octal"},
		{"17777", "octal"},
		{"u", "no +, - or ="},
		{"u+z", "unknown permission"},
		{"q+x", "want +, - or ="},
		{"u+x,", "no +, - or ="},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			_, err := ParseMode(tc.mode)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseMode(%q) error = %v, want one containing %q", tc.mode, err, tc.want)
			}
		})
	}
}
