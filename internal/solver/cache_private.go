package solver

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// privateCache returns the instance of the cache dir to mount with
// sharing=private, and the file holding its lock (closing it releases
// the instance): dir itself when no other RUN holds it, else the first
// free one of dir-private-1, -2... (made with dir's owner and mode), as
// BuildKit gives a private mount a new cache when the first is in use.
func privateCache(dir string) (string, *os.File, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", nil, fmt.Errorf("--mount=type=cache,sharing=private: %w", err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	for i := 0; i < 1000; i++ {
		inst := dir
		if i > 0 {
			inst = fmt.Sprintf("%s-private-%d", dir, i)
			if err := os.Mkdir(inst, fi.Mode().Perm()); err == nil {
				if st != nil {
					_ = os.Chown(inst, int(st.Uid), int(st.Gid))
				}
				_ = os.Chmod(inst, fi.Mode().Perm())
			} else if !errors.Is(err, os.ErrExist) {
				return "", nil, fmt.Errorf("--mount=type=cache,sharing=private: %w", err)
			}
		}
		f, err := os.OpenFile(inst+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return "", nil, fmt.Errorf("--mount=type=cache,sharing=private: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			return inst, f, nil
		}
		f.Close()
	}
	return "", nil, fmt.Errorf("--mount=type=cache,sharing=private: 1000 instances of %s are in use", dir)
}
