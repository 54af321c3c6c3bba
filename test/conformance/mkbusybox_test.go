package conformance

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// busyboxMtime is the mtime of every entry of busybox:conformance
// (2020-01-01T00:00:00Z).
const busyboxMtime = 1577836800

const busyboxPasswd = `root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const busyboxGroup = `root:x:0:
staff:x:50:app
app:x:1000:
nogroup:x:65534:
`

// makeBusyboxTar writes the busybox:conformance root filesystem tarball made
// from the static busybox at bin to out: the port of the shared harness's
// mkbusybox.py, byte for byte the same tarball for the same binary.
func makeBusyboxTar(ctx context.Context, bin, out string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("reading %s (apt-get install busybox-static): %w", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is not statically linked: apt-get install busybox-static", bin)
		}
	}
	list, err := exec.CommandContext(ctx, bin, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("listing the applets of %s: %w", bin, err)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("reading %s: %w", bin, err)
	}
	var buf bytes.Buffer
	if err := writeBusyboxTar(&buf, binary, strings.Fields(string(list))); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the busybox tarball: %w", err)
	}
	return nil
}

// bbEntry is one entry of the busybox tarball.
type bbEntry struct {
	typ      byte
	mode     int64
	uid, gid int64
	data     []byte
	link     string
}

// writeBusyboxTar writes the tarball of binary with one absolute symlink per
// applet path (as `busybox --list-full` prints them), in the format Python's
// tarfile writes with PAX_FORMAT: ustar headers, no PAX records (every name
// fits), directory names ending in "/", records padded to 10240 bytes.
func writeBusyboxTar(w io.Writer, binary []byte, applets []string) error {
	entries := map[string]*bbEntry{}
	dir := func(name string, mode int64) { entries[name] = &bbEntry{typ: '5', mode: mode} }
	for name, mode := range map[string]int64{"bin": 0o755, "etc": 0o755, "home": 0o755,
		"home/app": 0o755, "root": 0o700, "sbin": 0o755, "tmp": 0o1777, "usr": 0o755,
		"usr/bin": 0o755, "usr/sbin": 0o755, "var": 0o755, "var/tmp": 0o1777} {
		dir(name, mode)
	}
	entries["home/app"].uid, entries["home/app"].gid = 1000, 1000
	entries["bin/busybox"] = &bbEntry{typ: '0', mode: 0o755, data: binary}
	entries["etc/passwd"] = &bbEntry{typ: '0', mode: 0o644, data: []byte(busyboxPasswd)}
	entries["etc/group"] = &bbEntry{typ: '0', mode: 0o644, data: []byte(busyboxGroup)}
	for _, p := range applets {
		p = strings.Trim(p, "/")
		if e, ok := entries[p]; !strings.Contains(p, "/") || (ok && e.typ == '0') {
			continue
		}
		entries[p] = &bbEntry{typ: '2', mode: 0o777, link: "/bin/busybox"}
		for d := p[:strings.LastIndex(p, "/")]; d != ""; {
			if _, ok := entries[d]; ok {
				break
			}
			dir(d, 0o755)
			i := strings.LastIndex(d, "/")
			if i < 0 {
				break
			}
			d = d[:i]
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var out bytes.Buffer
	for _, n := range names {
		if err := writeUstar(&out, n, entries[n]); err != nil {
			return err
		}
	}
	out.Write(make([]byte, 1024))
	if r := out.Len() % 10240; r != 0 {
		out.Write(make([]byte, 10240-r))
	}
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("writing the busybox tarball: %w", err)
	}
	return nil
}

// writeUstar writes one ustar header (and the content) as Python's tarfile
// does: octal numbers zero-padded and NUL-terminated, empty device fields,
// magic "ustar\x0000", checksum "%06o\0 ".
func writeUstar(out *bytes.Buffer, name string, e *bbEntry) error {
	if e.typ == '5' {
		name += "/"
	}
	if len(name) > 100 || len(e.link) > 100 {
		return fmt.Errorf("busybox tarball: name %q too long for a ustar header", name)
	}
	var h [512]byte
	field := func(off, n int, s string) { copy(h[off:off+n], s) }
	octal := func(off, n int, v int64) { field(off, n, fmt.Sprintf("%0*o\x00", n-1, v)) }
	field(0, 100, name)
	octal(100, 8, e.mode)
	octal(108, 8, e.uid)
	octal(116, 8, e.gid)
	octal(124, 12, int64(len(e.data)))
	octal(136, 12, busyboxMtime)
	field(148, 8, "        ")
	h[156] = e.typ
	field(157, 100, e.link)
	field(257, 8, "ustar\x0000")
	sum := 0
	for _, b := range h {
		sum += int(b)
	}
	field(148, 7, fmt.Sprintf("%06o\x00", sum))
	out.Write(h[:])
	out.Write(e.data)
	if r := len(e.data) % 512; r != 0 {
		out.Write(make([]byte, 512-r))
	}
	return nil
}
