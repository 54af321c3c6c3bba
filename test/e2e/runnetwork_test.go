package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestRunNetworkPerStep: RUN --network=none runs in a new network namespace
// with only lo, --network=host in the host's, --network=default in the
// build's --network; the mode is part of the step's cache key.
func TestRunNetworkPerStep(t *testing.T) {
	data, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	host := strings.Join(isoNetDevices(strings.Split(string(data), "\n")), " ")
	if host == "lo" {
		t.Fatalf("the host has only lo: the test needs another interface")
	}
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": `FROM busybox
RUN --network=none sed 1,2d /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ' > /none
RUN --network=host sed 1,2d /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ' > /host
RUN --network=default sed 1,2d /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ' > /default
RUN sed 1,2d /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ' > /plain
`})
	read := func(tag, file string) string {
		t.Helper()
		return strings.TrimSpace(s.must("run", "--rm", tag, "cat", file).stdout)
	}
	s.must("build", "-t", "net-host", ctx)
	// As in BuildKit, a RUN --network=host needs the network.host
	// entitlement when the build asked for none.
	if r := s.run("build", "--network", "none", "-t", "net-none", ctx); r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:3") || !strings.Contains(r.stderr, "--allow network.host") {
		t.Fatalf("RUN --network=host in a --network none build without --allow network.host: exit %d\n%s", r.code, r.stderr)
	}
	s.must("build", "--network", "none", "--allow", "network.host", "-t", "net-none", ctx)
	tests := []struct{ tag, file, want string }{
		{"net-host", "/none", "lo"},
		{"net-host", "/host", host},
		{"net-host", "/default", host},
		{"net-host", "/plain", host},
		{"net-none", "/none", "lo"},
		{"net-none", "/host", host},
		{"net-none", "/default", "lo"},
		{"net-none", "/plain", "lo"},
	}
	for _, tc := range tests {
		t.Run(tc.tag+tc.file, func(t *testing.T) {
			if got := read(tc.tag, tc.file); got != tc.want {
				t.Errorf("%s saw interfaces %q, want %q", tc.file, got, tc.want)
			}
		})
	}
}

// TestRunDeviceRefused: RUN --device is refused with the Dockerfile's line
// until strata supports it, never ignored.
func TestRunDeviceRefused(t *testing.T) {
	s := newStrata(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --device=/dev/kvm true\n"})
	r := s.run("build", ctx)
	if r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:2") || !strings.Contains(r.stderr, "--device") {
		t.Fatalf("RUN --device: exit %d, want a refusal at Dockerfile:2\n%s", r.code, r.stderr)
	}
}
