package solver

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/dockerfile"
)

// TestRunNetwork: a RUN's --network wins over the build's; default (or
// none given) is the build's --network. (The hosts and resolv.conf of each
// network are procspec's, tested there.)
func TestRunNetwork(t *testing.T) {
	df, err := dockerfile.Parse("Dockerfile", []byte("FROM busybox\nRUN true\nRUN --network=default true\nRUN --network=none true\nRUN --network=host true\n"))
	if err != nil {
		t.Fatal(err)
	}
	runs := df.Stages[0].Commands
	tests := []struct {
		build string
		allow []string
		want  []string // per RUN above; "error" for a refusal
	}{
		{"host", nil, []string{"host", "host", "none", "host"}},
		{"none", []string{EntitlementNetworkHost}, []string{"none", "none", "none", "host"}},
		{"none", nil, []string{"none", "none", "none", "error"}},
	}
	for _, tt := range tests {
		t.Run(tt.build+strings.Join(tt.allow, ","), func(t *testing.T) {
			b := &builder{opts: Options{Network: tt.build, Allow: tt.allow}, tmp: t.TempDir()}
			for i, c := range runs {
				got, err := b.runNetwork(c.(*instructions.RunCommand))
				if err != nil {
					if !strings.Contains(err.Error(), "--allow network.host") {
						t.Errorf("RUN %d: error %v does not say what to do", i+2, err)
					}
					got = "error"
				}
				if got != tt.want[i] {
					t.Errorf("RUN %d: network %q, want %q", i+2, got, tt.want[i])
				}
			}
		})
	}
}
