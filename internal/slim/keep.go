package slim

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// maxLinks is how many symlinks one path may go through, as the kernel's
// limit.
const maxLinks = 40

// keeper decides what stays of a root filesystem: the paths given to it,
// the symlinks on their way, and what the kept executables need.
type keeper struct {
	root  string          // the image's merged files
	entry map[string]bool // kept entries, relative to root ("usr/bin/x")
	tree  map[string]bool // directories kept with everything in them
	done  map[string]bool // files whose needs were added
	// libDirs are the directories the dynamic loader searches, read from
	// the image's /etc/ld.so.conf once needed.
	libDirs []string
	// missing are shared libraries a kept ELF file needs that the image
	// does not have (it would not run in the original either).
	missing []string
}

func newKeeper(root string) *keeper {
	return &keeper{root: root, entry: map[string]bool{}, tree: map[string]bool{}, done: map[string]bool{}}
}

// add keeps the absolute path p: every directory and symlink on its way,
// the symlinks' targets, and the entry it names, when it exists; for a
// kept regular file, what it needs to run.
func (k *keeper) add(p string) error {
	real, ok, err := k.resolve(p, true, 0)
	if err != nil || !ok {
		return err
	}
	return k.needs(real)
}

// addTree keeps the absolute path p and, when it is a directory,
// everything in it.
func (k *keeper) addTree(p string) error {
	real, ok, err := k.resolve(p, true, 0)
	if err != nil || !ok {
		return err
	}
	fi, err := os.Lstat(filepath.Join(k.root, real))
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return k.needs(real)
	}
	k.tree[real] = true
	return filepath.WalkDir(filepath.Join(k.root, real), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(k.root, p)
		if err != nil {
			return err
		}
		return k.needs(rel)
	})
}

// resolve walks the absolute path p inside the root, following symlinks
// as the kernel would with the root as "/", and returns the entry it names
// relative to the root; ok is false when it does not exist. With mark, the
// directories and symlinks on the way, and the entry, are kept.
func (k *keeper) resolve(p string, mark bool, links int) (rel string, ok bool, err error) {
	parts := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	cur := ""
	for i, part := range parts {
		if part == "" {
			continue
		}
		if part == ".." {
			cur = parentOf(cur)
			continue
		}
		next := path.Join(cur, part)
		fi, err := os.Lstat(filepath.Join(k.root, next))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) || isNotDir(err) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("looking up %s: %w", p, err)
		}
		if mark {
			k.entry[next] = true
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links >= maxLinks {
			return "", false, nil // ELOOP for the program too
		}
		target, err := os.Readlink(filepath.Join(k.root, next))
		if err != nil {
			return "", false, fmt.Errorf("reading the symlink %s: %w", next, err)
		}
		if !path.IsAbs(target) {
			target = path.Join("/", cur, target)
		}
		rest := path.Join(append([]string{target}, parts[i+1:]...)...)
		return k.resolve(rest, mark, links+1)
	}
	if cur == "" {
		return ".", true, nil
	}
	return cur, true, nil
}

func parentOf(rel string) string {
	if d := path.Dir(rel); d != "." {
		return d
	}
	return ""
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// needs keeps what the regular file rel needs to run: the interpreter of
// a #! script; the ELF interpreter and the shared libraries (DT_NEEDED,
// recursively) of an ELF file, so that a library only used on a path the
// probes did not take is kept too.
func (k *keeper) needs(rel string) error {
	if k.done[rel] {
		return nil
	}
	k.done[rel] = true
	f, err := os.Open(filepath.Join(k.root, rel))
	if err != nil {
		return nil // a directory, a device, a socket: nothing to run
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	head := make([]byte, 256)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("#!")):
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		if fields := strings.Fields(string(line)); len(fields) > 0 {
			return k.add(fields[0])
		}
	case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		return k.elfNeeds(rel, f)
	}
	return nil
}

// elfNeeds keeps the interpreter and the DT_NEEDED closure of an ELF file.
func (k *keeper) elfNeeds(rel string, f *os.File) error {
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil // not an ELF file after all: kept as data
	}
	defer ef.Close()
	for _, prog := range ef.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		if prog.Filesz > 4096 {
			return fmt.Errorf("reading the interpreter of /%s: its name is %d bytes long", rel, prog.Filesz)
		}
		b := make([]byte, prog.Filesz)
		if _, err := prog.ReadAt(b, 0); err != nil {
			return fmt.Errorf("reading the interpreter of /%s: %w", rel, err)
		}
		if err := k.add(string(bytes.TrimRight(b, "\x00"))); err != nil {
			return err
		}
	}
	libs, err := ef.ImportedLibraries()
	if err != nil {
		return nil // no dynamic section: static
	}
	var runpath []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := ef.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				d = strings.ReplaceAll(d, "$ORIGIN", "/"+path.Dir(rel))
				d = strings.ReplaceAll(d, "${ORIGIN}", "/"+path.Dir(rel))
				runpath = append(runpath, d)
			}
		}
	}
	for _, lib := range libs {
		if err := k.library(rel, lib, runpath); err != nil {
			return err
		}
	}
	return nil
}

// library keeps the shared library lib that the ELF file rel needs, found
// as the dynamic loader finds it: rpath/runpath, then the ld.so.conf
// directories, then the default ones.
func (k *keeper) library(rel, lib string, runpath []string) error {
	if strings.Contains(lib, "/") {
		return k.add(lib)
	}
	dirs, err := k.loaderDirs()
	if err != nil {
		return err
	}
	for _, d := range append(runpath, dirs...) {
		if _, ok, err := k.resolve(path.Join(d, lib), false, 0); err != nil {
			return err
		} else if ok {
			return k.add(path.Join(d, lib))
		}
	}
	k.missing = append(k.missing, fmt.Sprintf("/%s needs %s", rel, lib))
	return nil
}

// loaderDirs returns the dynamic loader's search directories: those of
// /etc/ld.so.conf (and the files it includes), then the defaults.
func (k *keeper) loaderDirs() ([]string, error) {
	if k.libDirs != nil {
		return k.libDirs, nil
	}
	dirs, err := k.ldConf("/etc/ld.so.conf", 0)
	if err != nil {
		return nil, err
	}
	k.libDirs = append(dirs, "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
		"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib")
	return k.libDirs, nil
}

// ldConf reads one ld.so.conf file of the image: directories, and
// "include GLOB" lines.
func (k *keeper) ldConf(p string, depth int) ([]string, error) {
	rel, ok, err := k.resolve(p, false, 0)
	if err != nil || !ok || depth > 8 {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(k.root, rel))
	if err != nil {
		return nil, nil // a directory or unreadable: the loader ignores it too
	}
	var dirs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		glob, isInclude := strings.CutPrefix(line, "include")
		switch {
		case line == "":
		case isInclude && (strings.HasPrefix(glob, " ") || strings.HasPrefix(glob, "\t")):
			glob = strings.TrimSpace(glob)
			if !path.IsAbs(glob) {
				glob = path.Join(path.Dir(p), glob)
			}
			matches, _ := filepath.Glob(filepath.Join(k.root, glob))
			sort.Strings(matches)
			for _, m := range matches {
				sub, err := k.ldConf("/"+strings.TrimPrefix(m, k.root+"/"), depth+1)
				if err != nil {
					return nil, err
				}
				dirs = append(dirs, sub...)
			}
		case path.IsAbs(line):
			dirs = append(dirs, line)
		}
	}
	return dirs, nil
}
