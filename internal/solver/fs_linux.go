package solver

import (
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// clampMtimes sets every mtime under dir later than epoch to epoch (whole
// seconds), without following symlinks, as the layer tar's Clamp does.
func clampMtimes(dir string, epoch time.Time) error {
	limit := epoch.Truncate(time.Second)
	ts := []unix.Timespec{unix.NsecToTimespec(limit.UnixNano()), unix.NsecToTimespec(limit.UnixNano())}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.ModTime().After(limit) {
			return nil
		}
		if d.IsDir() {
			dirs = append(dirs, p) // after their entries, whose changes do not touch them anyway
			return nil
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		return err
	}
	for _, p := range dirs {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return nil
}
