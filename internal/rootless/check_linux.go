package rootless

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Check finds what entering a user namespace needs for the calling user and
// returns a *SetupError listing, with the fix for each, everything missing:
// newuidmap and newgidmap (Debian's uidmap package), setuid; a subordinate
// uid and gid range of at least MinRange ids; user namespaces enabled.
func Check() (*Setup, error) {
	s := &Setup{UID: os.Getuid(), GID: os.Getgid()}
	who := fmt.Sprintf("uid %d", s.UID)
	if u, err := user.LookupId(strconv.Itoa(s.UID)); err == nil {
		s.User = u.Username
		who = fmt.Sprintf("%s (uid %d)", s.User, s.UID)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var missing []string
	for _, h := range []struct {
		name string
		path *string
	}{{"newuidmap", &s.NewUIDMap}, {"newgidmap", &s.NewGIDMap}} {
		p, err := findHelper(h.name)
		if err != nil {
			missing = append(missing, h.name)
			continue
		}
		*h.path = p
		if !privileged(p) {
			add("%s is neither setuid root nor given capabilities: reinstall it with `apt-get install --reinstall uidmap` (as root)", p)
		}
	}
	if len(missing) > 0 {
		add("%s not found: install it with `apt-get install uidmap` (as root)", strings.Join(missing, " and "))
	}

	subuid, err := readSmall("/etc/subuid")
	if err != nil {
		add("reading /etc/subuid: %v", err)
	}
	subgid, err := readSmall("/etc/subgid")
	if err != nil {
		add("reading /etc/subgid: %v", err)
	}
	name := s.User
	if name == "" {
		name = strconv.Itoa(s.UID)
	}
	start := freeStart(subuid, subgid)
	fix := fmt.Sprintf("`usermod --add-subuids %d-%d --add-subgids %d-%d %s` (as root)", start, start+MinRange-1, start, start+MinRange-1, name)
	var okUID, okGID bool
	s.SubUID, okUID = pickRange(parseSubIDs(subuid, s.User, s.UID))
	s.SubGID, okGID = pickRange(parseSubIDs(subgid, s.User, s.UID))
	switch {
	case !okUID && !okGID:
		add("no subordinate uid and gid range of %d ids for %s in /etc/subuid and /etc/subgid: add them with %s", MinRange, name, fix)
	case !okUID:
		add("no subordinate uid range of %d ids for %s in /etc/subuid: add one with %s", MinRange, name, strings.Replace(fix, fmt.Sprintf(" --add-subgids %d-%d", start, start+MinRange-1), "", 1))
	case !okGID:
		add("no subordinate gid range of %d ids for %s in /etc/subgid: add one with %s", MinRange, name, strings.Replace(fix, fmt.Sprintf("--add-subuids %d-%d ", start, start+MinRange-1), "", 1))
	}

	if v, _ := readSmall("/proc/sys/user/max_user_namespaces"); strings.TrimSpace(v) == "0" {
		add("user namespaces are disabled (user.max_user_namespaces = 0): enable them with `sysctl -w user.max_user_namespaces=15000` (as root)")
	}
	if v, _ := readSmall("/proc/sys/kernel/unprivileged_userns_clone"); strings.TrimSpace(v) == "0" {
		add("unprivileged user namespaces are disabled: enable them with `sysctl -w kernel.unprivileged_userns_clone=1` (as root)")
	}
	if v, _ := readSmall("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); strings.TrimSpace(v) == "1" {
		add("AppArmor restricts unprivileged user namespaces: lift it with `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (as root)")
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		if rel := unix.ByteSliceToString(uts.Release[:]); !kernelAtLeast(rel, 5, 11) {
			// TODO(rootless): fall back to fuse-overlayfs on older kernels.
			add("overlayfs in a user namespace needs Linux 5.11 or later, and this is %s: upgrade the kernel", rel)
		}
	}
	if len(problems) > 0 {
		return nil, &SetupError{User: who, Problems: problems}
	}
	return s, nil
}

// findHelper looks for a uidmap helper on PATH, then in /usr/bin.
func findHelper(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := "/usr/bin/" + name
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// privileged reports whether the helper at p can write another process's
// mappings: setuid root, or file capabilities.
func privileged(p string) bool {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return false
	}
	if st.Mode&unix.S_ISUID != 0 && st.Uid == 0 {
		return true
	}
	n, err := unix.Getxattr(p, "security.capability", nil)
	return err == nil && n > 0
}
