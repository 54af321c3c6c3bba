package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrNotFound is wrapped by every error about a missing image, name, blob,
// layer directory or cache record, so callers can test it with errors.Is.
var ErrNotFound = errors.New("store: not found")

// ErrUnsupported is returned by operations that need Linux (flock, overlay
// whiteouts) on other systems.
var ErrUnsupported = errors.New("store: not supported on this operating system")

// notFoundError is a user-facing message that wraps ErrNotFound.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return ErrNotFound }

func notFound(format string, args ...any) error {
	return &notFoundError{msg: fmt.Sprintf(format, args...)}
}

// layoutVersion is the OCI image layout version the store writes and accepts.
const layoutVersion = "1.0.0"

// Store is an open local image store rooted at one directory.
type Store struct {
	root string
}

// DefaultRoot returns the store root to use when none is given: STRATA_ROOT
// if set, /var/lib/strata for root, and $XDG_DATA_HOME/strata (or
// ~/.local/share/strata) for other users.
func DefaultRoot() string {
	if r := os.Getenv("STRATA_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/strata"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "strata")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(os.TempDir(), fmt.Sprintf("strata-%d", os.Geteuid()))
	}
	return filepath.Join(home, ".local", "share", "strata")
}

// Open opens the store at root, creating the layout if it is missing. It
// refuses a root whose oci-layout file names another layout version.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving store root %s: %w", root, err)
	}
	s := &Store{root: abs}
	for _, d := range []string{"blobs/sha256", "layers", "cache", "tmp", "sizes", "content-sizes", "context-hashes", unsyncedBlobs} {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			return nil, fmt.Errorf("creating store directory: %w", err)
		}
	}
	layoutJSON, _ := json.Marshal(struct {
		Version string `json:"imageLayoutVersion"`
	}{layoutVersion})
	if err := s.createOnce("oci-layout", layoutJSON); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.path("oci-layout"))
	if err != nil {
		return nil, fmt.Errorf("reading oci-layout: %w", err)
	}
	var lay struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(b, &lay); err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path("oci-layout"), err)
	}
	if lay.Version != layoutVersion {
		return nil, fmt.Errorf("%s has OCI layout version %q, strata supports %q", abs, lay.Version, layoutVersion)
	}
	emptyIndex, _ := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []v1.Descriptor{},
	})
	if err := s.createOnce("index.json", emptyIndex); err != nil {
		return nil, err
	}
	return s, nil
}

// Root returns the absolute path of the store's root directory.
func (s *Store) Root() string { return s.root }

// TempDir creates a fresh directory under ROOT/tmp, on the same filesystem
// as the layers and blobs so that its content can be renamed in.
func (s *Store) TempDir(pattern string) (string, error) {
	d, err := os.MkdirTemp(s.path("tmp"), pattern)
	if err != nil {
		return "", fmt.Errorf("creating temporary directory: %w", err)
	}
	return d, nil
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

func (s *Store) blobPath(h v1.Hash) string {
	return s.path("blobs", h.Algorithm, h.Hex)
}

// createOnce atomically creates ROOT/name with data unless it exists: the
// content is written to tmp/ and hard-linked in, so a concurrent Open never
// sees a partial file.
func (s *Store) createOnce(name string, data []byte) error {
	dst := s.path(name)
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	tmp, err := s.writeTemp(name+"-*", data)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, dst); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	return syncDir(s.root)
}

// writeTemp writes data to a new fsynced file in tmp/ and returns its path.
func (s *Store) writeTemp(pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(s.path("tmp"), pattern)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// writeFileAtomic replaces dst with data: write to tmp/, fsync, rename, fsync dir.
func (s *Store) writeFileAtomic(dst string, data []byte) error {
	tmp, err := s.writeTemp(filepath.Base(dst)+"-*", data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(dst))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// checkHexName refuses a name of a file the store keeps by a hex name (a
// cache key, a context hash cache) that is not lower-case hex of at most
// 128 digits: no other name can reach outside its directory.
func checkHexName(what, name string) error {
	if !isHex(name) || len(name) > 128 {
		return fmt.Errorf("invalid %s %q: want lower-case hex", what, name)
	}
	return nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
