package solver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/internal/dockerfile"
)

// TestRunNetwork: a RUN's --network wins over the build's; default (or
// none given) is the build's --network. Each network has its own hosts and
// resolv.conf: the host's for host, loopback only and no resolver for none.
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
			hosts, resolv, err := b.hostFiles("none")
			if err != nil {
				t.Fatal(err)
			}
			if data, _ := os.ReadFile(resolv); len(data) != 0 {
				t.Errorf("resolv.conf for none = %q, want empty", data)
			}
			hostHosts, hostResolv, err := b.hostFiles("host")
			if err != nil {
				t.Fatal(err)
			}
			if hostHosts == hosts || hostResolv == resolv {
				t.Errorf("host and none share %s / %s", hosts, resolv)
			}
			want, _ := os.ReadFile("/etc/resolv.conf")
			if got, _ := os.ReadFile(hostResolv); string(got) != string(want) {
				t.Errorf("resolv.conf for host = %q, want the host's %q", got, want)
			}
			if !strings.HasPrefix(filepath.Base(hosts), "hosts-") {
				t.Errorf("hosts file %s", hosts)
			}
		})
	}
}
