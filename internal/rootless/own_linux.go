package rootless

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// envOwn tells a strata re-executed by EnterOwn why (its value is
// "entered: WHY"); in a strata that could not enter one it says why not
// ("refused: WHY").
const envOwn = "_STRATA_OWN_USERNS"

// ownIDs is how many ids the own user namespace maps, each onto itself:
// every id but 4294967295, (uid_t)-1, which owns no file. A map of all of
// them would read as the initial namespace's, and InUserNamespace would
// report false.
const ownIDs = "4294967294"

// EnterOwn re-executes strata, run as root without the privilege for the
// sandbox's namespaces (a container with docker's default capabilities but
// a seccomp profile that allows user namespaces), as root of a user
// namespace of its own, and new mount namespace, with every id mapped onto
// itself: there it holds every capability, so that the overlay mounts and
// the sandbox's namespaces work as they do for rootless strata. why says
// what refused the namespaces without it. EnterOwn returns only when the
// user namespace is refused, with the error saying why, and records it for
// OwnNote; otherwise it exits with the child's status.
func EnterOwn(opts Options, why string) error {
	mapIDs := func(pid int) error {
		for _, f := range []string{"uid_map", "gid_map"} {
			p := fmt.Sprintf("/proc/%d/%s", pid, f)
			if err := os.WriteFile(p, []byte("0 0 "+ownIDs+"\n"), 0); err != nil {
				return fmt.Errorf("rootless: writing %s: %w", p, err)
			}
		}
		return nil
	}
	code, err := reexec(mapIDs, opts, []string{envOwn + "=entered: " + why})
	if err != nil {
		note := err.Error()
		var errno syscall.Errno
		if errors.As(err, &errno) {
			note = "user namespace refused: " + errno.Error()
		}
		os.Setenv(envOwn, "refused: "+note)
		return err
	}
	os.Exit(code)
	return nil
}

// OwnNote says whether this strata runs in a user namespace of its own
// made by EnterOwn (entered is true, and why says what refused the
// namespaces without it), or why EnterOwn could not make one (entered is
// false); both are empty when EnterOwn was not tried.
func OwnNote() (entered bool, why string) {
	v := os.Getenv(envOwn)
	if w, ok := strings.CutPrefix(v, "entered: "); ok {
		return true, w
	}
	w, _ := strings.CutPrefix(v, "refused: ")
	return false, w
}
