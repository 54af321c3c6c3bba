package progress

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestNewSink(t *testing.T) {
	tests := []struct {
		mode     Mode
		wantMode Mode
		wantType string
		wantErr  string
	}{
		{ModeAuto, ModePlain, "*progress.Plain", ""}, // a buffer is no terminal
		{ModeTTY, ModeTTY, "*progress.TTY", ""},
		{ModePlain, ModePlain, "*progress.Plain", ""},
		{ModeJSON, ModeJSON, "*progress.JSON", ""},
		{ModeQuiet, ModeQuiet, "progress.Discard", ""},
		{"fancy", "", "<nil>", `unknown progress mode "fancy"`},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			sink, mode, err := NewSink(&bytes.Buffer{}, tt.mode)
			if got := fmt.Sprintf("%T", sink); got != tt.wantType || mode != tt.wantMode {
				t.Errorf("got %s, mode %q; want %s, mode %q", got, mode, tt.wantType, tt.wantMode)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
