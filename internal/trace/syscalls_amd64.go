//go:build linux && amd64

package trace

import "golang.org/x/sys/unix"

// arch is the audit architecture of the system calls in the table.
const arch = unix.AUDIT_ARCH_X86_64

// atCwd marks a path argument that has no directory fd: it is relative to
// the working directory.
const atCwd = -1

// pathArg is one path a system call names: the index of its argument, and
// of its directory fd argument (atCwd when there is none).
type pathArg struct{ dirfd, path int }

// call is what a system call names: paths, and fds whose file counts as
// used (a directory listed, a file mapped).
type call struct {
	paths []pathArg
	fd    int // index of an fd argument, or -1
}

func p(path int) call          { return call{paths: []pathArg{{atCwd, path}}, fd: -1} }
func at(dirfd, path int) call  { return call{paths: []pathArg{{dirfd, path}}, fd: -1} }
func fdOnly(fd int) call       { return call{fd: fd} }
func two(a, b pathArg) call    { return call{paths: []pathArg{a, b}, fd: -1} }
func cwd(path int) pathArg     { return pathArg{atCwd, path} }
func dir(fd, path int) pathArg { return pathArg{fd, path} }

// calls maps the amd64 system calls that name paths to their arguments.
// symlink's first argument is the link's text, not a lookup, and is left
// out; mmap is counted through its fd (argument 4).
var calls = map[uint64]call{
	unix.SYS_OPEN:              p(0),
	unix.SYS_CREAT:             p(0),
	unix.SYS_STAT:              p(0),
	unix.SYS_LSTAT:             p(0),
	unix.SYS_ACCESS:            p(0),
	unix.SYS_EXECVE:            p(0),
	unix.SYS_TRUNCATE:          p(0),
	unix.SYS_CHDIR:             p(0),
	unix.SYS_RENAME:            two(cwd(0), cwd(1)),
	unix.SYS_MKDIR:             p(0),
	unix.SYS_RMDIR:             p(0),
	unix.SYS_LINK:              two(cwd(0), cwd(1)),
	unix.SYS_UNLINK:            p(0),
	unix.SYS_SYMLINK:           p(1),
	unix.SYS_READLINK:          p(0),
	unix.SYS_CHMOD:             p(0),
	unix.SYS_CHOWN:             p(0),
	unix.SYS_LCHOWN:            p(0),
	unix.SYS_UTIME:             p(0),
	unix.SYS_UTIMES:            p(0),
	unix.SYS_MKNOD:             p(0),
	unix.SYS_USELIB:            p(0),
	unix.SYS_STATFS:            p(0),
	unix.SYS_CHROOT:            p(0),
	unix.SYS_SETXATTR:          p(0),
	unix.SYS_LSETXATTR:         p(0),
	unix.SYS_GETXATTR:          p(0),
	unix.SYS_LGETXATTR:         p(0),
	unix.SYS_LISTXATTR:         p(0),
	unix.SYS_LLISTXATTR:        p(0),
	unix.SYS_REMOVEXATTR:       p(0),
	unix.SYS_LREMOVEXATTR:      p(0),
	unix.SYS_INOTIFY_ADD_WATCH: p(1),
	unix.SYS_OPENAT:            at(0, 1),
	unix.SYS_OPENAT2:           at(0, 1),
	unix.SYS_MKDIRAT:           at(0, 1),
	unix.SYS_MKNODAT:           at(0, 1),
	unix.SYS_FCHOWNAT:          at(0, 1),
	unix.SYS_FUTIMESAT:         at(0, 1),
	unix.SYS_NEWFSTATAT:        at(0, 1),
	unix.SYS_UNLINKAT:          at(0, 1),
	unix.SYS_RENAMEAT:          two(dir(0, 1), dir(2, 3)),
	unix.SYS_RENAMEAT2:         two(dir(0, 1), dir(2, 3)),
	unix.SYS_LINKAT:            two(dir(0, 1), dir(2, 3)),
	unix.SYS_SYMLINKAT:         at(1, 2),
	unix.SYS_READLINKAT:        at(0, 1),
	unix.SYS_FCHMODAT:          at(0, 1),
	unix.SYS_FCHMODAT2:         at(0, 1),
	unix.SYS_FACCESSAT:         at(0, 1),
	unix.SYS_FACCESSAT2:        at(0, 1),
	unix.SYS_UTIMENSAT:         at(0, 1),
	unix.SYS_NAME_TO_HANDLE_AT: at(0, 1),
	unix.SYS_EXECVEAT:          at(0, 1),
	unix.SYS_STATX:             at(0, 1),
	unix.SYS_OPEN_TREE:         at(0, 1),
	unix.SYS_GETXATTRAT:        at(0, 1),
	unix.SYS_LISTXATTRAT:       at(0, 1),
	unix.SYS_SETXATTRAT:        at(0, 1),
	unix.SYS_REMOVEXATTRAT:     at(0, 1),
	unix.SYS_GETDENTS:          fdOnly(0),
	unix.SYS_GETDENTS64:        fdOnly(0),
	unix.SYS_FCHDIR:            fdOnly(0),
	unix.SYS_MMAP:              fdOnly(4),
}
