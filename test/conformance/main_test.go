package conformance

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "conformance: these tests need root (strata's RUN, a private dockerd, the rootless user): run them as root, as CI does")
		os.Exit(1)
	}
	// Cases run as parallel subtests, CONFORMANCE_PARALLEL (3) at a time:
	// go test's own limit (-parallel, GOMAXPROCS by default) must not be
	// lower, unless it was given.
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		n := 3
		if v, err := strconv.Atoi(os.Getenv("CONFORMANCE_PARALLEL")); err == nil && v > 0 {
			n = v
		}
		flag.Set("test.parallel", strconv.Itoa(n))
	}
	os.Exit(m.Run())
}
