package container

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openPty opens a new pseudo-terminal pair: the master the caller reads
// and writes, the slave the process gets as its terminal, sized rows×cols.
func openPty(rows, cols uint16) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlocking the pseudo-terminal: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("numbering the pseudo-terminal: %w", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("opening the pseudo-terminal: %w", err)
	}
	if rows == 0 || cols == 0 {
		rows, cols = 24, 80
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("sizing the pseudo-terminal: %w", err)
	}
	return master, slave, nil
}

// tty connects a process's terminal to plain streams: what in carries is
// typed into the terminal, what the process writes goes to out.
type tty struct {
	master, slave *os.File
	done          chan struct{}
}

// newTty opens a terminal for a process and starts copying.
func newTty(in io.Reader, out io.Writer, rows, cols uint16) (*tty, error) {
	master, slave, err := openPty(rows, cols)
	if err != nil {
		return nil, err
	}
	t := &tty{master: master, slave: slave, done: make(chan struct{})}
	if in != nil {
		go io.Copy(master, in) // ends with the process (EIO) or never: stdin may not end
	}
	go func() {
		io.Copy(out, master) // EIO once the last process holding the slave exits
		close(t.done)
	}()
	return t, nil
}

// wait closes strata's end of the slave, waits for the process's output
// to drain, and closes the master.
func (t *tty) wait() {
	t.slave.Close()
	<-t.done
	t.master.Close()
}
