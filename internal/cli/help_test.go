package cli

import (
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasAnExample walks the whole command tree, cobra's help and
// completion commands included: each one's --help shows at least one example.
func TestEveryCommandHasAnExample(t *testing.T) {
	var walk func(c *cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		seen++
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Example == "" {
				t.Errorf("%q has no Example: add one to its cobra.Command", c.CommandPath())
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRoot())
	for _, want := range []string{"help", "completion"} {
		if c, _, err := NewRoot().Find([]string{want}); err != nil || c.Name() != want {
			t.Errorf("strata %s: not in the command tree (found %v, %v)", want, c, err)
		}
	}
	if seen < 10 {
		t.Errorf("walked %d commands, want the whole tree", seen)
	}
}

func TestNeedsPrivilege(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--help"}, false},
		{[]string{"build", "-h"}, false},
		{[]string{"help", "build"}, false},
		{[]string{"version"}, false},
		{[]string{"completion", "bash"}, false},
		{[]string{"__complete", "images", ""}, false},
		{[]string{"images"}, true},
		{[]string{"--root", "/tmp/x", "build", "."}, true},
		{[]string{"nosuchcommand"}, true},
	}
	for _, tt := range tests {
		if got := NeedsPrivilege(tt.args); got != tt.want {
			t.Errorf("NeedsPrivilege(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
