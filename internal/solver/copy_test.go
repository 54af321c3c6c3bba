package solver

import "testing"

func TestIsGitSource(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"https://github.com/moby/buildkit.git", true},
		{"https://github.com/moby/buildkit.git#v0.12", true},
		{"http://example.com/repo.git/", true},
		{"git@github.com:moby/buildkit.git", true},
		{"git://example.com/repo", true},
		{"ssh://git@example.com/repo", true},
		{"https://example.com/file.tar.gz", false},
		{"https://example.com/repo.git.tar.gz", false},
		{"https://example.com/?q=x.git", false},
		{"src/app.git", false},
		{"gitfile", false},
	} {
		t.Run(tc.src, func(t *testing.T) {
			if got := isGitSource(tc.src); got != tc.want {
				t.Errorf("isGitSource(%q): got %v, want %v", tc.src, got, tc.want)
			}
		})
	}
}
