package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

const (
	// testIdle is the IdleTimeout of the stall tests.
	testIdle = 200 * time.Millisecond
	// stallFor is how long a stalled handler holds on when the client does
	// not hang up: far longer than a push or pull that recovers takes.
	stallFor = 10 * time.Second
)

// stall reads r's body and then answers nothing until the client hangs up
// (or stallFor passed).
func stall(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(stallFor):
	}
}

// stallMidBody answers r with the headers and half the body of the real
// answer and then sends nothing more until the client hangs up (or stallFor
// passed).
func stallMidBody(rec *recorder, w http.ResponseWriter, r *http.Request) {
	full := httptest.NewRecorder()
	rec.next.ServeHTTP(full, r)
	body := full.Body.Bytes()
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: %s\r\nDocker-Content-Digest: %s\r\n\r\n",
		len(body), full.Header().Get("Content-Type"), full.Header().Get("Docker-Content-Digest"))
	buf.Write(body[:len(body)/2])
	buf.Flush()
	// A read returns when the client closes the connection.
	conn.SetReadDeadline(time.Now().Add(stallFor))
	io.Copy(io.Discard, conn)
}

func isBlobGet(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
}

func isManifestGet(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/")
}

func TestStalls(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pull  bool // stall during Pull (after a clean Push), else Push
		match func(*http.Request) bool
		// midBody sends the headers and part of the body before stalling.
		midBody bool
	}{
		{name: "push-patch", match: isUpload},
		{name: "push-post", match: isPost},
		{name: "push-commit", match: isCommit},
		{name: "push-manifest", match: isManifestPut},
		{name: "pull-manifest", pull: true, match: isManifestGet},
		{name: "pull-manifest-mid-body", pull: true, match: isManifestGet, midBody: true},
		{name: "pull-blob", pull: true, match: isBlobGet},
		{name: "pull-blob-mid-body", pull: true, match: isBlobGet, midBody: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			host, rec := newRegistry(t)
			img := plainImage(t, 9, 2, types.OCIManifestSchema1)
			ref := host + "/test/stall:v1"
			opts := testOptions()
			opts.IdleTimeout = testIdle

			var mu sync.Mutex
			stalled := 0
			intercept := func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				if stalled > 0 || !tc.match(r) {
					mu.Unlock()
					return false
				}
				stalled++
				mu.Unlock()
				if tc.midBody {
					stallMidBody(rec, w, r)
				} else {
					stall(w, r)
				}
				return true
			}

			start := time.Now()
			if tc.pull {
				if _, err := Push(ctx, img, ref, opts); err != nil {
					t.Fatal(err)
				}
				rec.intercept = intercept
				got, _, err := Pull(ctx, ref, opts)
				if err != nil {
					t.Fatalf("Pull with a stalled request: %v", err)
				}
				readAll(t, got)
				if err := validate.Image(got); err != nil {
					t.Error(err)
				}
			} else {
				rec.intercept = intercept
				if _, err := Push(ctx, img, ref, opts); err != nil {
					t.Fatalf("Push with a stalled request: %v", err)
				}
				rec.intercept = nil
				got, _, err := Pull(ctx, ref, opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := validate.Image(got); err != nil {
					t.Error(err)
				}
			}
			if elapsed := time.Since(start); elapsed > stallFor/2 {
				t.Errorf("took %s: the stalled request was waited out instead of abandoned", elapsed)
			}
			mu.Lock()
			defer mu.Unlock()
			if stalled != 1 {
				t.Errorf("stalled %d requests, want 1", stalled)
			}
		})
	}
}

// TestStallGivesUp checks that a registry that always stalls fails the push
// with ErrStalled after the retries, without writing the manifest.
func TestStallGivesUp(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t)
	rec.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if isUpload(r) {
			stall(w, r)
			return true
		}
		return false
	}
	opts := testOptions()
	opts.IdleTimeout = 50 * time.Millisecond
	opts.Retries = 1
	img := plainImage(t, 10, 1, types.OCIManifestSchema1)
	_, err := Push(ctx, img, host+"/test/stuck:v1", opts)
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("Push to a stalling registry: %v, want ErrStalled", err)
	}
	if n := rec.count("PUT", "/manifests/"); n != 0 {
		t.Errorf("manifest PUT %d times, want 0", n)
	}
}

// TestSlowReaderIsNotAStall checks that time the caller spends between reads
// of a pulled layer does not count against IdleTimeout.
func TestSlowReaderIsNotAStall(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t)
	img := plainImage(t, 11, 1, types.OCIManifestSchema1)
	ref := host + "/test/slow:v1"
	opts := testOptions()
	opts.IdleTimeout = testIdle
	if _, err := Push(ctx, img, ref, opts); err != nil {
		t.Fatal(err)
	}
	got, _, err := Pull(ctx, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rec.reset()
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1024)
	for {
		_, err := rc.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading layer slowly: %v", err)
		}
		time.Sleep(opts.IdleTimeout + 100*time.Millisecond)
		if n := rec.count("GET", "/blobs/"); n > 1 {
			t.Fatalf("layer fetched %d times while read slowly, want once", n)
		}
	}
}

// uerr wraps err the way http.Client reports a failed request.
func uerr(err error) error { return &url.Error{Op: "Patch", URL: "http://127.0.0.1/v2/", Err: err} }

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"eof-of-a-request", uerr(io.EOF), true},
		{"bare-eof", io.EOF, false},
		{"stalled", uerr(&stallError{timeout: time.Second}), true},
		{"canceled", uerr(context.Canceled), false},
		{"deadline", uerr(context.DeadlineExceeded), false},
		{"cause-from-another-request", uerr(uerr(io.EOF)), false},
		{"unexpected-eof", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true},
		{"other", errors.New("bad digest"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryable(tc.err); got != tc.want {
				t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      Options
		wantSteps int // attempts in all
		wantFirst time.Duration
		wantLast  time.Duration // the wait before the last retry, about
	}{
		{"default", Options{}, 6, 500 * time.Millisecond, 8 * time.Second},
		{"many-retries-capped", Options{Retries: 12}, 13, 500 * time.Millisecond, maxRetryDelay},
		{"long-first-delay", Options{Retries: 3, RetryDelay: 20 * time.Second}, 4, 20 * time.Second, 20 * time.Second},
		{"no-retries", Options{Retries: -1}, 1, 500 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.opts.backoff()
			if b.Steps != tc.wantSteps {
				t.Errorf("Steps = %d, want %d", b.Steps, tc.wantSteps)
			}
			if b.Cap != 0 {
				t.Errorf("Cap = %s, want 0 (a cap ends go-containerregistry's retries)", b.Cap)
			}
			if got := tc.opts.retryWait(0); got != tc.wantFirst {
				t.Errorf("first wait = %s, want %s", got, tc.wantFirst)
			}
			if n := tc.opts.retries(); n > 0 {
				got := tc.opts.retryWait(n - 1)
				if d := got - tc.wantLast; d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("last wait = %s, want %s", got, tc.wantLast)
				}
			}
		})
	}
}
