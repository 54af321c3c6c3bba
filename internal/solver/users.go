package solver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// maxUserFile bounds how much of /etc/passwd or /etc/group is read.
const maxUserFile = 10 << 20

// readLayered reads the file rel (no leading slash) as the merged view of
// layer dirs (top first, overlay format) shows it; os.ErrNotExist when absent.
func readLayered(dirs []string, rel string) ([]byte, error) {
	parts := strings.Split(rel, "/")
	for _, d := range dirs {
		hidden, opaque := false, false
		for i := 1; i < len(parts); i++ {
			p := filepath.Join(d, filepath.Join(parts[:i]...))
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				break
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				hidden = true // a whiteout or a file replaces the directory
				break
			}
			for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} { // root, rootless
				if v, err := getxattr(p, x); err == nil && v == "y" {
					opaque = true
				}
			}
		}
		if hidden {
			return nil, os.ErrNotExist
		}
		p := filepath.Join(d, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err == nil {
			if st.Mode&unix.S_IFMT != unix.S_IFREG {
				return nil, os.ErrNotExist
			}
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, maxUserFile+1))
			if err != nil {
				return nil, err
			}
			if len(b) > maxUserFile {
				return nil, fmt.Errorf("/%s is larger than %d bytes", rel, maxUserFile)
			}
			return b, nil
		}
		if opaque {
			return nil, os.ErrNotExist
		}
	}
	return nil, os.ErrNotExist
}

func getxattr(path, name string) (string, error) {
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// execUser is who a RUN runs as.
type execUser struct {
	UID, GID int
	Groups   []int
	Home     string
}

// resolveUser resolves a USER value against the image's /etc/passwd and
// /etc/group, as runc and BuildKit do.
func resolveUser(dirs []string, spec string) (execUser, error) {
	if spec == "" {
		spec = "0"
	}
	if u, g, ok := strings.Cut(spec, ":"); ok {
		uid, err1 := strconv.Atoi(u)
		gid, err2 := strconv.Atoi(g)
		if err1 == nil && err2 == nil {
			home := "/"
			if pw, err := readLayered(dirs, "etc/passwd"); err == nil {
				if users, err := user.ParsePasswdFilter(bytes.NewReader(pw), func(x user.User) bool { return x.Uid == uid }); err == nil && len(users) > 0 && users[0].Home != "" {
					home = users[0].Home
				}
			}
			return execUser{UID: uid, GID: gid, Home: home}, nil
		}
	}
	var passwd, group io.Reader
	if b, err := readLayered(dirs, "etc/passwd"); err == nil {
		if err := checkPasswdIDs(b, spec); err != nil {
			return execUser{}, err
		}
		passwd = bytes.NewReader(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return execUser{}, fmt.Errorf("reading /etc/passwd: %w", err)
	}
	if b, err := readLayered(dirs, "etc/group"); err == nil {
		group = bytes.NewReader(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return execUser{}, fmt.Errorf("reading /etc/group: %w", err)
	}
	eu, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, passwd, group)
	if err != nil {
		return execUser{}, fmt.Errorf("user %q: %w", spec, err)
	}
	return execUser{UID: eu.Uid, GID: eu.Gid, Groups: eu.Sgids, Home: eu.Home}, nil
}

// resolveChown resolves a COPY --chown value: "user[:group]", names looked up
// in the image, a numeric user alone meaning the same number as group.
func resolveChown(dirs []string, spec string) (uid, gid int, err error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	if n, err := strconv.Atoi(u); err == nil {
		uid, gid = n, n
	} else {
		pw, err := readLayered(dirs, "etc/passwd")
		if err != nil {
			return 0, 0, fmt.Errorf("unknown user %q: the image has no /etc/passwd; use a numeric uid", u)
		}
		users, err := user.ParsePasswdFilter(bytes.NewReader(pw), func(x user.User) bool { return x.Name == u })
		if err != nil {
			return 0, 0, fmt.Errorf("reading /etc/passwd: %w", err)
		}
		if len(users) == 0 {
			return 0, 0, fmt.Errorf("unknown user %q: no such entry in the image's /etc/passwd", u)
		}
		if err := checkPasswdIDs(pw, u); err != nil {
			return 0, 0, err
		}
		uid, gid = users[0].Uid, users[0].Gid
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if n, err := strconv.Atoi(g); err == nil {
		return uid, n, nil
	}
	gr, err := readLayered(dirs, "etc/group")
	if err != nil {
		return 0, 0, fmt.Errorf("unknown group %q: the image has no /etc/group; use a numeric gid", g)
	}
	groups, err := user.ParseGroupFilter(bytes.NewReader(gr), func(x user.Group) bool { return x.Name == g })
	if err != nil {
		return 0, 0, fmt.Errorf("reading /etc/group: %w", err)
	}
	if len(groups) == 0 {
		return 0, 0, fmt.Errorf("unknown group %q: no such entry in the image's /etc/group", g)
	}
	return uid, groups[0].Gid, nil
}

// checkPasswdIDs fails when the /etc/passwd line of the user named in spec
// (user[:group]; the first line of that name, the one used) has a uid or
// gid that is not a non-negative number: moby/sys/user reads such a field
// as 0, which would run the step as root.
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
