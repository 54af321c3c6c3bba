package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/cgi"
	"net/http/httptest"
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
	// (-t, --target, --build-arg), writing the output to log; input says
	// how the context and the Dockerfile are given (buildInput).
	build(ctx context.Context, tag, ctxDir, file, input, log string, args []string) error
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

func (s *dockerSide) build(ctx context.Context, tag, ctxDir, file, input, log string, args []string) error {
	fArgs, ctxArg, in, stop, err := buildInput(ctx, ctxDir, file, input)
	if err != nil {
		return err
	}
	defer stop()
	argv := append(append([]string{"build", "--network", "host", "--no-cache", "--progress", "plain"}, fArgs...), "-t", tag)
	cmd := s.d.command(ctx, append(append(argv, args...), ctxArg)...)
	cmd.Stdin = in
	return runLogged(cmd, log)
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

func (s *strataSide) build(ctx context.Context, tag, ctxDir, file, input, log string, args []string) error {
	fArgs, ctxArg, in, stop, err := buildInput(ctx, ctxDir, file, input)
	if err != nil {
		return err
	}
	defer stop()
	argv := append(append([]string{"build", "--network", "host", "--no-cache", "--snapshotter", s.snapshotter}, fArgs...), "-t", tag)
	cmd := s.command(ctx, append(append(argv, args...), ctxArg)...)
	cmd.Stdin = in
	return runLogged(cmd, log)
}

// The ways a case's context and Dockerfile reach the build (case.env's
// INPUT).
const (
	inputDir            = ""                // the directory, -f naming the Dockerfile in it
	inputTar            = "tar"             // build - < context.tar, -f relative to the tar
	inputTarGz          = "tar.gz"          // the same, gzip-compressed
	inputDockerfile     = "dockerfile"      // build -f - DIR < Dockerfile
	inputDockerfileOnly = "dockerfile-only" // build - < Dockerfile: no context
	inputGit            = "git"             // build http://127.0.0.1:PORT/context.git#v1, -f relative to the repository
)

// buildInput returns the -f flag, the context argument and the standard
// input of a build of ctxDir with file, given as input says. A git
// context is ctxDir committed (tagged v1) in a repository beside it and
// served by git's http-backend for the build's length (stop).
func buildInput(ctx context.Context, ctxDir, file, input string) (fArgs []string, ctxArg string, in io.Reader, stop func(), err error) {
	stop = func() {}
	switch input {
	case inputDir:
		return []string{"-f", filepath.Join(ctxDir, file)}, ctxDir, nil, stop, nil
	case inputDockerfile, inputDockerfileOnly:
		df, err := os.ReadFile(filepath.Join(ctxDir, file))
		if err != nil {
			return nil, "", nil, stop, err
		}
		if input == inputDockerfileOnly {
			return nil, "-", bytes.NewReader(df), stop, nil
		}
		return []string{"-f", "-"}, ctxDir, bytes.NewReader(df), stop, nil
	case inputTar, inputTarGz:
		argv := []string{"-C", ctxDir, "--numeric-owner", "--sort=name", "-cf", "-", "."}
		if input == inputTarGz {
			argv = append([]string{"-z"}, argv...)
		}
		out, err := exec.CommandContext(ctx, "tar", argv...).Output()
		if err != nil {
			return nil, "", nil, stop, fmt.Errorf("making the context tar: %w", err)
		}
		return []string{"-f", file}, "-", bytes.NewReader(out), stop, nil
	case inputGit:
		url, stop, err := serveGit(ctx, ctxDir)
		if err != nil {
			return nil, "", nil, func() {}, err
		}
		return []string{"-f", file}, url + "#v1", nil, stop, nil
	}
	return nil, "", nil, stop, fmt.Errorf("INPUT=%q: want tar, tar.gz, dockerfile, dockerfile-only or git", input)
}

// serveGit commits a copy of ctxDir into a new repository beside it (each
// side its own: the sides build at once) and serves it with git's
// http-backend on 127.0.0.1; it returns the repository's URL and what
// stops the server.
func serveGit(ctx context.Context, ctxDir string) (string, func(), error) {
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		return "", nil, fmt.Errorf("a git context needs git's http-backend (apt-get install git): %w", err)
	}
	root, err := os.MkdirTemp(filepath.Dir(ctxDir), "git-")
	if err != nil {
		return "", nil, err
	}
	work := filepath.Join(root, "work")
	if out, err := exec.CommandContext(ctx, "cp", "-a", ctxDir+"/.", work).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("copying the git context: %w: %s", err, out)
	}
	git := func(dir string, args ...string) error {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "safe.directory=*", "-c", "user.name=c", "-c", "user.email=c@c"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	steps := []struct {
		dir  string
		args []string
	}{
		{work, []string{"init", "-q"}},
		{work, []string{"add", "-A"}},
		{work, []string{"commit", "-q", "-m", "context"}},
		{work, []string{"tag", "v1"}},
		{root, []string{"clone", "-q", "--bare", work, filepath.Join(root, "context.git")}},
	}
	for _, s := range steps {
		if err := git(s.dir, s.args...); err != nil {
			return "", nil, fmt.Errorf("making the git context: %w", err)
		}
	}
	srv := httptest.NewServer(&cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
	return srv.URL + "/context.git", srv.Close, nil
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
