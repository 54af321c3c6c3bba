package buildcontext

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-build/strata/internal/gitsrc"
	"github.com/strata-build/strata/internal/layer"
)

// Stdin is the context argument that reads the context, or a Dockerfile
// alone, from standard input, as docker build's "-".
const Stdin = "-"

// Fetched is a build context made ready in a directory.
type Fetched struct {
	// Dir is the context directory; "" when stdin held a Dockerfile alone
	// (a build without a context).
	Dir string
	// Dockerfile is the Dockerfile read from stdin when it held no tar.
	Dockerfile []byte
	// Remote tells a context that was fetched (a tar on stdin, a git
	// repository) from a local directory: the Dockerfile of a fetched
	// context is named relative to its root, as docker build does.
	Remote bool
}

// IsRemote reports whether a context argument is fetched by Fetch rather
// than being a local directory: stdin or a git URL.
func IsRemote(arg string) bool {
	return arg == Stdin || gitsrc.IsGit(arg)
}

// Fetch makes the context arg names ready under dir (a new, empty
// directory that the caller removes): stdin's tar (plain, gzip, bzip2, xz
// or zstd) extracted, stdin read as a Dockerfile when it is no tar, or a
// git repository (https://host/repo.git#ref:subdir, git@host:repo...)
// checked out, its subdir the context. A local directory is returned as
// it is.
func Fetch(ctx context.Context, arg string, stdin io.Reader, dir string) (Fetched, error) {
	switch {
	case arg == Stdin:
		return fetchStdin(ctx, stdin, dir)
	case gitsrc.IsGit(arg):
		d, err := fetchGit(ctx, arg, dir)
		return Fetched{Dir: d, Remote: true}, err
	case strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
		return Fetched{}, fmt.Errorf("the build context %s: a URL context must be a git repository (a path ending in .git); download an archive and pass it on stdin: strata build - < context.tar.gz", arg)
	}
	fi, err := os.Stat(arg)
	if err != nil || !fi.IsDir() {
		return Fetched{}, fmt.Errorf("the build context %q is not a directory (nor -, for stdin, nor a git URL)", arg)
	}
	return Fetched{Dir: arg}, nil
}

// fetchStdin extracts a tar from r into dir, or returns r's content as the
// Dockerfile when it is not a tar (compressed or not).
func fetchStdin(ctx context.Context, r io.Reader, dir string) (Fetched, error) {
	dr, err := layer.Decompress(bufio.NewReader(r))
	if err != nil {
		return Fetched{}, fmt.Errorf("reading the context from stdin: %w", err)
	}
	defer dr.Close()
	br := bufio.NewReaderSize(dr, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return Fetched{}, fmt.Errorf("reading the context from stdin: %w", err)
	}
	if _, terr := tar.NewReader(strings.NewReader(string(head))).Next(); terr != nil {
		data, err := io.ReadAll(br)
		if err != nil {
			return Fetched{}, fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		return Fetched{Dockerfile: data}, nil
	}
	opts := layer.ExtractOptions{Format: layer.MergedFormat, NoChown: os.Geteuid() != 0}
	if _, err := layer.Extract(ctx, br, dir, opts); err != nil {
		return Fetched{}, fmt.Errorf("extracting the context tar from stdin: %w", err)
	}
	return Fetched{Dir: dir, Remote: true}, nil
}

// fetchGit checks out the git context url into dir/src and returns the
// context directory (its subdir, when the URL names one).
func fetchGit(ctx context.Context, url, dir string) (string, error) {
	src, err := gitsrc.Parse(url)
	if err != nil {
		return "", fmt.Errorf("the build context: %w", err)
	}
	commit, err := gitsrc.Resolve(ctx, src)
	if err != nil {
		return "", fmt.Errorf("the build context: %w", err)
	}
	d, err := gitsrc.Checkout(ctx, src, commit, filepath.Join(dir, "src"), gitsrc.CheckoutOptions{})
	if err != nil {
		return "", fmt.Errorf("the build context: %w", err)
	}
	return d, nil
}
