package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-build/strata/test/testenv"
)

// A side is one builder of a comparison: docker's BuildKit (the oracle) or
// strata, run as root or by an ordinary user.
type side interface {
	// label names the side in tags, file names and reports.
	label() string
	// build builds ctxDir with file (relative to it) as tag, plus args
	// (-t, --target, --build-arg), writing the output to log.
	build(ctx context.Context, tag, ctxDir, file, log string, args []string) error
	// export streams the merged filesystem of tag as a tar to fn.
	export(ctx context.Context, tag string, fn func(io.Reader) error) error
	// inspect returns `docker image inspect`-shaped JSON of tag.
	inspect(ctx context.Context, tag string) ([]byte, error)
}

// dockerSide builds with the private dockerd's BuildKit.
type dockerSide struct {
	d    *dockerd
	name string
}

var _ side = (*dockerSide)(nil)

func (s *dockerSide) label() string { return s.name }

func (s *dockerSide) build(ctx context.Context, tag, ctxDir, file, log string, args []string) error {
	argv := append([]string{"build", "--network", "host", "--no-cache", "--progress", "plain",
		"-f", filepath.Join(ctxDir, file), "-t", tag}, args...)
	return runLogged(s.d.command(ctx, append(argv, ctxDir)...), log)
}

func (s *dockerSide) export(ctx context.Context, tag string, fn func(io.Reader) error) error {
	out, err := s.d.output(ctx, "create", tag, "/conformance-placeholder-cmd")
	if err != nil {
		return fmt.Errorf("creating a container of %s: %w", tag, err)
	}
	cid := strings.TrimSpace(out)
	defer s.d.output(context.WithoutCancel(ctx), "rm", "-v", "-f", cid)
	return streamFrom(s.d.command(ctx, "export", cid), fn)
}

func (s *dockerSide) inspect(ctx context.Context, tag string) ([]byte, error) {
	out, err := s.d.output(ctx, "image", "inspect", tag)
	return []byte(out), err
}

// strataSide builds with the strata binary, as root with its own store, or
// as an ordinary user (rootless) when user is set, with the snapshotter its
// mode names.
type strataSide struct {
	bin         string
	root        string        // the store, for root
	user        *rootlessUser // nil for root
	dataHome    string        // XDG_DATA_HOME (the store's parent), for the user
	snapshotter string        // --snapshotter of its builds: overlay or native
	mode        string        // root, rootless, native or rootless-native
}

// newStrataSide returns the side of mode: a store of its own under work
// (root) or under the user's home (rootless), so that sides of a case build
// at once.
func newStrataSide(mode, bin, work string, u *rootlessUser) *strataSide {
	s := &strataSide{bin: bin, mode: mode, snapshotter: "overlay"}
	if mode == "native" || mode == "rootless-native" {
		s.snapshotter = "native"
	}
	if u == nil {
		s.root = filepath.Join(work, "store-"+mode)
		return s
	}
	s.user, s.dataHome = u, filepath.Join(u.home, "data-"+mode)
	return s
}

var _ side = (*strataSide)(nil)

func (s *strataSide) label() string {
	if s.mode == "root" {
		return "strata"
	}
	return "strata-" + s.mode
}

// command is strata with args, as root or as the user.
func (s *strataSide) command(ctx context.Context, args ...string) *exec.Cmd {
	if s.user == nil {
		return exec.CommandContext(ctx, s.bin, append([]string{"--root", s.root}, args...)...)
	}
	u := s.user
	argv := []string{
		"--reuid=" + strconv.Itoa(u.uid), "--regid=" + strconv.Itoa(u.gid), "--clear-groups",
		"env", "-i", "HOME=" + u.home, "XDG_DATA_HOME=" + s.dataHome,
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", u.bin,
	}
	cmd := exec.CommandContext(ctx, "setpriv", append(argv, args...)...)
	cmd.Dir = u.home
	return cmd
}

func (s *strataSide) build(ctx context.Context, tag, ctxDir, file, log string, args []string) error {
	argv := append([]string{"build", "--network", "host", "--no-cache", "--snapshotter", s.snapshotter,
		"-f", filepath.Join(ctxDir, file), "-t", tag}, args...)
	return runLogged(s.command(ctx, append(argv, ctxDir)...), log)
}

func (s *strataSide) export(ctx context.Context, tag string, fn func(io.Reader) error) error {
	return streamFrom(s.command(ctx, "export", tag), fn)
}

func (s *strataSide) inspect(ctx context.Context, tag string) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := s.command(ctx, "inspect", tag)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("strata inspect %s: %w: %s", tag, err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// runLogged runs cmd with stdout and stderr to the file log.
func runLogged(cmd *exec.Cmd, log string) error {
	f, err := os.Create(log)
	if err != nil {
		return fmt.Errorf("creating the build log: %w", err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	return cmd.Run()
}

// streamFrom runs cmd and hands its stdout to fn; both must succeed.
func streamFrom(cmd *exec.Cmd, fn func(io.Reader) error) error {
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", cmd.Args[0], err)
	}
	ferr := fn(out)
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if werr != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), werr, strings.TrimSpace(testenv.LastLines(errb.String(), 10)))
	}
	return ferr
}

// imageIDOf returns the image ID that tag names on side s.
func imageIDOf(ctx context.Context, s side, tag string) (string, error) {
	data, err := s.inspect(ctx, tag)
	if err != nil {
		return "", err
	}
	return imageID(data)
}
