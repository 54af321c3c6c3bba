package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/strata-build/strata/internal/layer"
)

// Options configures Pull and Push. The zero value is ready to use.
type Options struct {
	// Insecure lists registries (host or host:port) reached over plain http.
	// Loopback registries (localhost, 127.0.0.1, [::1]) may always fall back
	// to http and need not be listed.
	Insecure []string
	// Platform selects the image of a multi-platform index on Pull; nil means
	// the host's platform.
	Platform *v1.Platform
	// Progress, when set, receives upload updates during Push; it is closed
	// when the push ends (go-containerregistry's remote.WithProgress).
	Progress chan<- v1.Update
	// Retries is how many times a failed request or blob transfer is tried
	// again (5xx, 429, dropped or stalled connections); 0 means 5, negative
	// means none. A blob upload that fails is started again from scratch in a
	// fresh upload session.
	Retries int
	// RetryDelay is the wait before the first retry, doubled after each (but
	// growing to no more than 10s); 0 means 500ms.
	RetryDelay time.Duration
	// IdleTimeout is how long one request may go without progress (no
	// request body read, no response headers, no response body bytes) before
	// it is abandoned and counts as a failed try (ErrStalled); 0 means 30s,
	// negative means no limit. Time the caller spends between reads of a
	// layer does not count.
	IdleTimeout time.Duration
	// Compression is how Push compresses layers stored as plain tars
	// (layer.Compress); empty means gzip, layer.Uncompressed pushes them as
	// they are.
	Compression layer.Compression
	// LayerExists, when set, is called by Push with the index of each
	// layer the registry already has (docker push's "Layer already
	// exists"), before the upload starts.
	LayerExists func(layer int)
	// CompressionLevel is the level handed to the compressor; 0 means the
	// algorithm's default.
	CompressionLevel int
	// ForceCompression recompresses layers already compressed another way
	// than Compression.
	ForceCompression bool
	// Compressor, when set, compresses the layers of Push and PushLayer and
	// keeps them, so that a layer pushed early is not compressed again;
	// nil makes one in a temporary directory per Push.
	Compressor *Compressor
	// TempDir holds the compressed layers Push makes before uploading them;
	// empty means os.TempDir().
	TempDir string
	// UserAgent is sent with every request when set.
	UserAgent string
	// Keychain resolves credentials; nil means authn.DefaultKeychain.
	Keychain authn.Keychain
	// Config is the registries file's settings (mirrors, insecure, CA);
	// nil means none.
	Config *Config
}

// ErrUnauthorized is matched (errors.Is) by errors of a registry that refused
// the credentials or asked for some.
var ErrUnauthorized = errors.New("registry: unauthorized")

// ErrManifestUnknown is matched by Pull errors for an image or tag the
// registry does not have.
var ErrManifestUnknown = errors.New("registry: manifest unknown")

// ErrConnectionRefused is matched by errors of a registry host that refused
// the connection.
var ErrConnectionRefused = errors.New("registry: connection refused")

// ErrStalled is matched by errors of a request that made no progress for
// Options.IdleTimeout.
var ErrStalled = errors.New("registry: connection stalled")

const (
	defaultRetries     = 5
	defaultRetryDelay  = 500 * time.Millisecond
	maxRetryDelay      = 10 * time.Second
	defaultIdleTimeout = 30 * time.Second
)

func (o Options) retries() int {
	switch {
	case o.Retries == 0:
		return defaultRetries
	case o.Retries < 0:
		return 0
	}
	return o.Retries
}

func (o Options) idleTimeout() time.Duration {
	if o.IdleTimeout == 0 {
		return defaultIdleTimeout
	}
	return o.IdleTimeout
}

// backoff is the retry schedule handed to go-containerregistry: o.retries()
// retries, the first after RetryDelay, each later one longer by a factor of 2
// or less, so that no wait exceeds maxRetryDelay. (go-containerregistry's
// Backoff.Cap would end the retries when reached instead of capping the
// waits, so the factor is lowered instead.)
func (o Options) backoff() remote.Backoff {
	d := o.RetryDelay
	if d <= 0 {
		d = defaultRetryDelay
	}
	n := o.retries()
	f := 2.0
	if n > 1 && float64(d)*math.Pow(f, float64(n-1)) > float64(maxRetryDelay) {
		f = max(1, math.Pow(float64(maxRetryDelay)/float64(d), 1/float64(n-1)))
	}
	return remote.Backoff{Duration: d, Factor: f, Jitter: 0.1, Steps: n + 1}
}

// retryWait returns how long to wait before retry number try (0 for the
// first), following o.backoff() without its jitter.
func (o Options) retryWait(try int) time.Duration {
	b := o.backoff()
	return time.Duration(float64(b.Duration) * math.Pow(b.Factor, float64(try)))
}

// platform returns the configured platform or the host's.
func (o Options) platform() v1.Platform {
	if o.Platform != nil {
		return *o.Platform
	}
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "GOARM" && s.Value != "" {
					p.Variant = "v" + strings.SplitN(s.Value, ",", 2)[0]
				}
			}
		}
	}
	return p
}

// retryable reports whether err is worth another attempt: server-side
// trouble, rate limits, and connections that broke or stalled.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		var inner *url.Error
		if errors.As(ue.Err, &inner) {
			// Not this request's failure: go-containerregistry cancels the
			// other uploads of a push with the error that failed it, and
			// net/http reports that cause (context.Cause) as theirs.
			return false
		}
		if errors.Is(ue.Err, io.EOF) {
			// The server (or a proxy) hung up before answering: the
			// connection was dropped, not the request refused.
			return true
		}
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Temporary()
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	return errors.Is(err, ErrStalled) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNABORTED)
}

// retryPredicate is retryable, but never once ctx has ended.
func retryPredicate(ctx context.Context) func(error) bool {
	return func(err error) bool {
		return ctx.Err() == nil && retryable(err)
	}
}

// remoteOptions turns o into go-containerregistry options.
func (o Options) remoteOptions(ctx context.Context) ([]remote.Option, error) {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	tr, err := o.Config.transport(remote.DefaultTransport)
	if err != nil {
		return nil, err
	}
	ro := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithPlatform(o.platform()),
		remote.WithTransport(newIdleTransport(tr, o.idleTimeout())),
		remote.WithRetryBackoff(o.backoff()),
		remote.WithRetryPredicate(retryPredicate(ctx)),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
			http.StatusGatewayTimeout),
	}
	if o.UserAgent != "" {
		ro = append(ro, remote.WithUserAgent(o.UserAgent))
	}
	return ro, nil
}

// parseRef parses ref with docker's normalisation, marking loopback and
// listed registries as insecure (plain http allowed).
func (o Options) parseRef(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing reference %q: %w", ref, err)
	}
	if !o.PlainHTTP(r.Context().RegistryStr()) {
		return r, nil
	}
	return name.ParseReference(ref, name.Insecure)
}

// PlainHTTP reports whether the registry reg (host[:port]) may be reached
// over plain http: a loopback host, one named in o.Insecure, or one the
// registries file says is insecure.
func (o Options) PlainHTTP(reg string) bool {
	if o.Config.host(reg).Insecure {
		return true
	}
	for _, s := range o.Insecure {
		if strings.EqualFold(strings.TrimSuffix(s, "/"), reg) {
			return true
		}
	}
	host := reg
	if h, _, err := net.SplitHostPort(reg); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// opError is an error with its own message that still matches both a
// sentinel and the underlying cause with errors.Is and errors.As.
type opError struct {
	msg  string
	errs []error
}

func (e *opError) Error() string   { return e.msg }
func (e *opError) Unwrap() []error { return e.errs }

// explain turns err from go-containerregistry into a message for a user.
// op is "pulling" or "pushing to".
func explain(op string, ref name.Reference, err error) error {
	if err == nil {
		return nil
	}
	reg := ref.Context().RegistryStr()
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden ||
			hasCode(te, transport.UnauthorizedErrorCode, transport.DeniedErrorCode):
			return &opError{
				msg:  fmt.Sprintf("%s %s: unauthorized: run \"strata login %s\" or check credentials", op, ref, reg),
				errs: []error{ErrUnauthorized, err},
			}
		case op == "pulling" && (te.StatusCode == http.StatusNotFound ||
			hasCode(te, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode)):
			return &opError{
				msg:  fmt.Sprintf("%s: manifest unknown (no such image or tag)", ref),
				errs: []error{ErrManifestUnknown, err},
			}
		}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return &opError{
			msg:  fmt.Sprintf("%s %s: connection refused by %s (is the registry running?)", op, ref, reg),
			errs: []error{ErrConnectionRefused, err},
		}
	}
	return fmt.Errorf("%s %s: %w", op, ref, err)
}

func hasCode(te *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}
