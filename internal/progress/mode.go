package progress

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// Mode is how progress is shown: ModeAuto, ModeTTY, ModePlain, ModeJSON or
// ModeQuiet.
type Mode string

// The modes, as --progress names them.
const (
	// ModeAuto is ModeTTY when the output is a terminal, else ModePlain.
	ModeAuto  Mode = "auto"
	ModeTTY   Mode = "tty"
	ModePlain Mode = "plain"
	ModeJSON  Mode = "json"
	ModeQuiet Mode = "quiet"
)

// NewSink returns the renderer of mode writing to w, and the mode it chose
// (never ModeAuto). A live view is as wide as w's terminal, read again at
// every repaint, or 80 columns.
func NewSink(w io.Writer, mode Mode) (Sink, Mode, error) {
	f, isFile := w.(*os.File)
	isTTY := isFile && term.IsTerminal(int(f.Fd()))
	if mode == ModeAuto {
		mode = ModePlain
		if isTTY {
			mode = ModeTTY
		}
	}
	switch mode {
	case ModeTTY:
		width := func() int { return 80 }
		if isFile {
			// Asked at every repaint: a resized terminal (SIGWINCH) gets
			// lines of its new width without a signal handler.
			width = func() int {
				cols, _, err := term.GetSize(int(f.Fd()))
				if err != nil {
					return 80
				}
				return cols
			}
		}
		return NewResizableTTY(w, width), mode, nil
	case ModePlain:
		return NewPlain(w), mode, nil
	case ModeJSON:
		return NewJSON(w), mode, nil
	case ModeQuiet:
		return Discard{}, mode, nil
	}
	return nil, "", fmt.Errorf("unknown progress mode %q: use auto, tty, plain, json or quiet", string(mode))
}
