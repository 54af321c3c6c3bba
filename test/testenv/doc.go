// Package testenv holds what strata's end-to-end tests (test/e2e) and the
// conformance suite (test/conformance) both need from the machine: a private
// docker daemon and the ordinary users of the rootless tests. Its helpers
// need root and fail the test, never skip it, when a requirement is missing.
package testenv
