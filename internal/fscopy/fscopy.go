package fscopy

import (
	"errors"
	"os"
	"time"
)

// ErrUnsupported is returned by Copy and MkdirAll on systems other than
// Linux.
var ErrUnsupported = errors.New("fscopy: copying needs Linux")

// Action is one COPY or ADD, with the sources and options already expanded
// and resolved by the caller. It holds only data, so that it can be encoded
// (JSON) and handed to the sandbox process.
type Action struct {
	// SrcRoot is the host directory the sources are relative to: the build
	// context, or the mounted root of the stage or image of COPY --from.
	SrcRoot string
	// Exclude holds .dockerignore patterns (as buildcontext.ReadIgnoreFile
	// returns them) whose paths under SrcRoot do not exist for the copy;
	// nil for COPY --from.
	Exclude []string
	// Sources are the sources in Dockerfile order.
	Sources []Source
	// Dest is the destination as written after expansion, absolute inside
	// the root (the caller joins a relative one to WORKDIR first, keeping
	// a trailing "/"); a trailing "/" (or "/.") makes it a directory.
	Dest string
	// Chown, when set, owns every copied entry and created directory
	// (--chown, already resolved to numbers).
	Chown *Owner
	// KeepOwner keeps the owners of the sources when Chown is nil (COPY
	// --from); otherwise copied entries are owned by 0:0 (the build
	// context, whose owners docker resets).
	KeepOwner bool
	// Chmod, when set, is the mode of every copied file and directory
	// (--chmod: permission bits plus setuid, setgid and sticky, either as
	// os.ModeSetuid... or as the raw octal bits of os.FileMode(0o4755)).
	Chmod *os.FileMode
	// SymbolicChmod, when set and Chmod is not, changes the mode of every
	// copied file and directory from its source's (--chmod=u+x).
	SymbolicChmod *Mode
	// SocketsAsFiles copies a unix socket as an empty regular file of its
	// mode, as BuildKit's transfer of the build context does (its
	// testCopySocket); otherwise sockets are skipped (COPY --from).
	SocketsAsFiles bool
	// Unpack extracts sources that are tar archives (ADD).
	Unpack bool
	// ExcludePatterns are the --exclude patterns (.dockerignore syntax)
	// of COPY and ADD, matched against the paths below each source (a
	// directory's entries, relative to it); a source itself, or a match
	// of a wildcard source, is never excluded, as in BuildKit.
	ExcludePatterns []string
	// Parents keeps the sources' parent directories (COPY --parents): each
	// source copies what its pattern (Source.Rel, below Source.Pivot)
	// selects to Dest joined with its path below the pivot.
	Parents bool
	// ModTime, when set, is the mtime of everything copied and created;
	// nil keeps the sources' mtimes.
	ModTime *time.Time
}

// Source is one COPY/ADD source.
type Source struct {
	// Rel is the source's path relative to SrcRoot, slash-separated; a
	// leading "/" and ".." climbing above SrcRoot are dropped.
	Rel string
	// IsGlob tells that Rel is a wildcard pattern, expanded against SrcRoot
	// when the copy runs (buildcontext.Tree.Glob); a pattern matching
	// nothing copies nothing. A literal path, including a match already
	// expanded by buildcontext.Context.Select, has IsGlob false.
	IsGlob bool
	// Pivot, with Action.Parents, is the directory (relative to SrcRoot)
	// whose path is not kept: the part of the source before a "/./"
	// ("." when there is none). Rel is then a pattern relative to Pivot
	// that may hold wildcards, "**" included.
	Pivot string
}

// Owner is a numeric uid and gid.
type Owner struct {
	UID, GID int
}
