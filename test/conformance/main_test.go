package conformance

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "conformance: these tests need root (strata's RUN, a private dockerd, the rootless user): run them as root, as CI does")
		os.Exit(1)
	}
	os.Exit(m.Run())
}
