package cli

import "testing"

func TestWantsSandbox(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  string // $STRATA_ISOLATION
		want bool
	}{
		{"build default", []string{"build", "."}, "", true},
		{"build auto", []string{"build", "--isolation", "auto", "."}, "", true},
		{"build namespaces", []string{"build", "--isolation=namespaces", "."}, "", true},
		{"build chroot", []string{"build", "--isolation", "chroot", "."}, "", false},
		{"build chroot from the environment", []string{"build", "."}, "chroot", false},
		{"flag over the environment", []string{"build", "--isolation", "auto", "."}, "chroot", true},
		{"with the root flag first", []string{"--root", "/tmp/s", "build", "--isolation", "chroot", "."}, "", false},
		{"bad isolation", []string{"build", "--isolation", "jail", "."}, "", false},
		{"no isolation flag", []string{"push", "a", "b"}, "", false},
		{"unknown command", []string{"nope"}, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envIsolation, tt.env)
			if got := WantsSandbox(tt.args); got != tt.want {
				t.Errorf("WantsSandbox(%q) with %s=%q: got %v, want %v", tt.args, envIsolation, tt.env, got, tt.want)
			}
		})
	}
}
