//go:build !linux

package container

import (
	"errors"
	"io"
	"os"
)

type tty struct{ slave *os.File }

func newTty(io.Reader, io.Writer, uint16, uint16) (*tty, error) {
	return nil, errors.New("run -t: pseudo-terminals need Linux")
}

func (t *tty) wait() {}
