package procspec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
)

// User is who a process runs as.
type User struct {
	UID, GID int
	// Groups are the supplementary groups: those of /etc/group that list
	// the user's name, when USER names no group.
	Groups []int
	// Home is the user's home from /etc/passwd, "/" when it has none.
	Home string
}

// LookupUser resolves a USER value (user[:group], names or numbers, empty
// for root) against the image's /etc/passwd and /etc/group, as runc does for
// Docker and BuildKit: a name must exist; a uid that /etc/passwd lacks is
// used as is, with gid 0 unless a group is given; a named group must exist.
func LookupUser(layers []string, spec string) (User, error) {
	if spec == "" {
		spec = "0"
	}
	if uid, gid, ok := numericIDs(spec); ok {
		// As BuildKit: uid:gid needs no user database, so a broken one
		// does not stop it; /etc/passwd only gives HOME.
		return User{UID: uid, GID: gid, Groups: []int{}, Home: homeOf(layers, uid)}, nil
	}
	var passwd, group io.Reader
	if b, err := ReadLayered(layers, "etc/passwd"); err == nil {
		if err := checkPasswdIDs(b, spec); err != nil {
			return User{}, err
		}
		passwd = bytes.NewReader(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return User{}, fmt.Errorf("reading /etc/passwd: %w", err)
	}
	if b, err := ReadLayered(layers, "etc/group"); err == nil {
		group = bytes.NewReader(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return User{}, fmt.Errorf("reading /etc/group: %w", err)
	}
	eu, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, passwd, group)
	if err != nil {
		return User{}, lookupError(spec, err, passwd == nil, group == nil)
	}
	home := eu.Home
	if home == "" {
		home = "/"
	}
	return User{UID: eu.Uid, GID: eu.Gid, Groups: eu.Sgids, Home: home}, nil
}

// numericIDs returns the ids of a USER "uid:gid" of two numbers in range.
func numericIDs(spec string) (uid, gid int, ok bool) {
	u, g, found := strings.Cut(spec, ":")
	if !found {
		return 0, 0, false
	}
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 || uid > math.MaxInt32 || gid > math.MaxInt32 {
		return 0, 0, false
	}
	return uid, gid, true
}

// homeOf returns the home of uid in the image's /etc/passwd, "/" when it
// has none or cannot be read.
func homeOf(layers []string, uid int) string {
	pw, err := ReadLayered(layers, "etc/passwd")
	if err != nil {
		return "/"
	}
	users, err := user.ParsePasswdFilter(bytes.NewReader(pw), func(x user.User) bool { return x.Uid == uid })
	if err != nil || len(users) == 0 || users[0].Home == "" {
		return "/"
	}
	return users[0].Home
}

// lookupError says why USER spec did not resolve and what to do.
func lookupError(spec string, err error, noPasswd, noGroup bool) error {
	switch {
	case errors.Is(err, user.ErrNoPasswdEntries) && noPasswd:
		return fmt.Errorf("user %q: the image has no /etc/passwd (%w): use a numeric uid", spec, user.ErrNoPasswdEntries)
	case errors.Is(err, user.ErrNoPasswdEntries):
		return fmt.Errorf("user %q: %w of the image: add the user in an earlier RUN (adduser or useradd) or use a numeric uid", spec, user.ErrNoPasswdEntries)
	case errors.Is(err, user.ErrNoGroupEntries) && noGroup:
		return fmt.Errorf("user %q: the image has no /etc/group (%w): use a numeric gid", spec, user.ErrNoGroupEntries)
	case errors.Is(err, user.ErrNoGroupEntries):
		return fmt.Errorf("user %q: %w of the image: add the group in an earlier RUN (addgroup or groupadd) or use a numeric gid", spec, user.ErrNoGroupEntries)
	}
	return fmt.Errorf("user %q: %w", spec, err)
}

// LookupOwner resolves a COPY --chown value (and WORKDIR's owner under a
// USER): "user[:group]", names looked up in the image, a numeric user alone
// meaning the same number as group. A name the image does not have is not an
// error, as in BuildKit's readUser (solver/llbsolver/file/user_linux.go): an
// unknown user gives 0:0, an unknown group keeps the user's gid; warn then
// says so, for the caller to show with the instruction's file:line.
func LookupOwner(layers []string, spec string) (uid, gid int, warn string, err error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	var warns []string
	if n, err := strconv.Atoi(u); err == nil {
		uid, gid = n, n
	} else {
		pw, err := ReadLayered(layers, "etc/passwd")
		var users []user.User
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return 0, 0, "", fmt.Errorf("reading /etc/passwd: %w", err)
		default:
			users, err = user.ParsePasswdFilter(bytes.NewReader(pw), func(x user.User) bool { return x.Name == u })
			if err != nil {
				return 0, 0, "", fmt.Errorf("reading /etc/passwd: %w", err)
			}
		}
		if len(users) == 0 {
			warns = append(warns, fmt.Sprintf("unknown user %q (not in the image's /etc/passwd): uid 0 and gid 0 used, as BuildKit does; use a numeric uid", u))
		} else {
			if err := checkPasswdIDs(pw, u); err != nil {
				return 0, 0, "", err
			}
			uid, gid = users[0].Uid, users[0].Gid
		}
	}
	if hasGroup {
		if n, err := strconv.Atoi(g); err == nil {
			gid = n
		} else {
			found, err := lookupGroup(layers, g)
			if err != nil {
				return 0, 0, "", err
			}
			if found < 0 {
				warns = append(warns, fmt.Sprintf("unknown group %q (not in the image's /etc/group): gid %d of the user used, as BuildKit does; use a numeric gid", g, gid))
			} else {
				gid = found
			}
		}
	}
	return uid, gid, strings.Join(warns, "; "), nil
}

// lookupGroup returns the gid of the group named name in the image's
// /etc/group, or -1 when the file or the name is missing.
func lookupGroup(layers []string, name string) (int, error) {
	gr, err := ReadLayered(layers, "etc/group")
	if errors.Is(err, os.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading /etc/group: %w", err)
	}
	groups, err := user.ParseGroupFilter(bytes.NewReader(gr), func(x user.Group) bool { return x.Name == name })
	if err != nil {
		return 0, fmt.Errorf("reading /etc/group: %w", err)
	}
	if len(groups) == 0 {
		return -1, nil
	}
	return groups[0].Gid, nil
}

// checkPasswdIDs fails when the /etc/passwd line of the user named in spec
// (user[:group]; the first line of that name, the one used) has a uid or
// gid that is not a non-negative number: moby/sys/user reads such a field
// as 0, which would run the process as root.
func checkPasswdIDs(pw []byte, spec string) error {
	name, _, _ := strings.Cut(spec, ":")
	if _, err := strconv.Atoi(name); err == nil {
		return nil
	}
	for i, line := range strings.Split(string(pw), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 4 || f[0] != name {
			continue
		}
		for _, id := range f[2:4] {
			if n, err := strconv.Atoi(id); err != nil || n < 0 {
				return fmt.Errorf("user %q: line %d of the image's /etc/passwd has the id %q, which is not a number: fix the base image or use a numeric USER", name, i+1, id)
			}
		}
		return nil
	}
	return nil
}
