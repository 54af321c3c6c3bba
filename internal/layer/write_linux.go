package layer

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WriteTar walks dir and writes a deterministic PAX tar of it to w.
//
// Entries are sorted by path with parents before children; the root itself
// is not an entry. In DiffFormat a character device 0:0 is written as the
// whiteout ".wh.<name>" and a directory with trusted.overlay.opaque=y is
// followed by "<dir>/.wh..wh..opq"; whiteouts have mode 0, owner 0:0 and
// mtime 0 so that the tar does not depend on when they were made. A file
// whose name starts with ".wh." is an error in both formats. Sockets are left
// out. WriteTar does not close w.
func WriteTar(ctx context.Context, dir string, w io.Writer, opts WriteOptions) (WriteStats, error) {
	bw := bufio.NewWriterSize(w, bufSize)
	tw := &tarWriter{
		ctx:   ctx,
		opts:  opts,
		tw:    tar.NewWriter(bw),
		links: make(map[fileID]string),
		buf:   make([]byte, bufSize),
	}
	if opts.Clamp != nil {
		c := time.Unix(opts.Clamp.Unix(), 0)
		tw.clamp = &c
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return WriteStats{}, fmt.Errorf("reading %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return WriteStats{}, fmt.Errorf("%s is not a directory", dir)
	}
	p := startPrefetch(ctx, dir, opts)
	defer p.stop()
	for e := range p.order {
		<-e.ready
		err := tw.entry(e)
		e.release()
		if err != nil {
			return tw.stats, err
		}
	}
	if err := ctx.Err(); err != nil {
		return tw.stats, err
	}
	if err := tw.tw.Close(); err != nil {
		return tw.stats, fmt.Errorf("closing tar: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return tw.stats, fmt.Errorf("writing tar: %w", err)
	}
	return tw.stats, nil
}

// fileID names an inode, to find hardlinks.
type fileID struct{ dev, ino uint64 }

// tarWriter is the state of one WriteTar.
type tarWriter struct {
	ctx   context.Context
	opts  WriteOptions
	tw    *tar.Writer
	clamp *time.Time
	links map[fileID]string // first name written for each multiply linked inode
	buf   []byte
	stats WriteStats
}

// entry writes one path, as read ahead by a prefetcher worker. A
// directory's children are the entries that follow it.
func (t *tarWriter) entry(e *entryInfo) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	if e.err != nil {
		return e.err
	}
	rel, st := e.rel, &e.st
	format := st.Mode & unix.S_IFMT
	if e.dir != (format == unix.S_IFDIR) {
		return fmt.Errorf("%s changed while being read", rel)
	}
	if format == unix.S_IFSOCK {
		return nil
	}
	if t.opts.Format == DiffFormat && format == unix.S_IFCHR && st.Rdev == 0 {
		dir, base := path.Split(rel)
		return t.writeWhiteout(dir + whiteoutPrefix + base)
	}
	if strings.HasPrefix(path.Base(rel), whiteoutPrefix) {
		return fmt.Errorf("%s: a file named .wh.* cannot be stored", rel)
	}
	mtime := time.Unix(st.Mtim.Sec, 0)
	if t.clamp != nil && mtime.After(*t.clamp) {
		mtime = *t.clamp
	}
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime,
		Format:  tar.FormatPAX,
	}
	id := fileID{dev: st.Dev, ino: st.Ino}
	if format != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := t.links[id]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			return t.writeHeader(hdr)
		}
		t.links[id] = rel
	}
	if e.xerr != nil {
		return fmt.Errorf("%s: %w", rel, e.xerr)
	}
	for _, x := range e.xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = make(map[string]string)
		}
		hdr.PAXRecords[xattrPAX+x.name] = string(x.value)
	}
	switch format {
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		return t.writeFile(e, hdr)
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name = rel + "/"
		if err := t.writeHeader(hdr); err != nil {
			return err
		}
		if e.opaque {
			return t.writeWhiteout(rel + "/" + opaqueMarker)
		}
		return nil
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = e.target
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if format == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	default:
		return fmt.Errorf("%s: unknown file type %#o", rel, format)
	}
	return t.writeHeader(hdr)
}

// writeWhiteout writes a whiteout entry with a zeroed header.
func (t *tarWriter) writeWhiteout(name string) error {
	return t.writeHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatPAX,
	})
}

func (t *tarWriter) writeHeader(hdr *tar.Header) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing header of %s: %w", hdr.Name, err)
	}
	t.stats.Entries++
	switch hdr.Typeflag { // as ContentSize counts
	case tar.TypeReg, tar.TypeRegA:
		t.stats.Content += hdr.Size
	case tar.TypeSymlink:
		t.stats.Content += int64(len(hdr.Linkname))
	}
	return nil
}

// writeFile writes a regular file's header and content: the content read
// ahead, or streamed from the file left open.
func (t *tarWriter) writeFile(e *entryInfo, hdr *tar.Header) error {
	if e.ferr != nil {
		return e.ferr
	}
	if err := t.writeHeader(hdr); err != nil {
		return err
	}
	var n int64
	var err error
	if e.file != nil {
		n, err = copyBuf(t.ctx, t.tw, io.LimitReader(e.file, hdr.Size), t.buf)
	} else {
		var k int
		k, err = t.tw.Write(e.data)
		n = int64(k)
	}
	t.stats.Bytes += n
	if err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("writing %s: file shrank from %d to %d bytes while being read", hdr.Name, hdr.Size, n)
	}
	return nil
}

// displayName names the directory rel in messages.
func displayName(rel string) string {
	if rel == "" {
		return "/"
	}
	return rel
}
