package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// stallError is the failure of a request that made no progress for timeout.
// It is temporary, so that the retry predicate tries again.
type stallError struct{ timeout time.Duration }

func (e *stallError) Error() string {
	return fmt.Sprintf("%v: no progress for %s", ErrStalled, e.timeout)
}
func (e *stallError) Timeout() bool        { return true }
func (e *stallError) Temporary() bool      { return true }
func (e *stallError) Is(target error) bool { return target == ErrStalled }

// idleTransport aborts a request that makes no progress for timeout: while
// the request is sent, each read of its body restarts the clock, which then
// runs until the response headers arrive; afterwards the clock runs only
// while a read of the response body waits, so a slow consumer of a layer is
// never mistaken for a stalled server. An aborted request fails with a
// *stallError.
type idleTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

// newIdleTransport wraps next, or returns it as it is for a timeout <= 0.
func newIdleTransport(next http.RoundTripper, timeout time.Duration) http.RoundTripper {
	if timeout <= 0 {
		return next
	}
	return &idleTransport{next: next, timeout: timeout}
}

// RoundTrip implements http.RoundTripper.
func (t *idleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watchdog{timeout: t.timeout, cancel: cancel, sending: true}
	w.mu.Lock()
	w.timer = time.AfterFunc(t.timeout, w.fire)
	w.mu.Unlock()

	r := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		r.Body = &sendBody{rc: req.Body, w: w}
		if req.GetBody != nil {
			r.GetBody = func() (io.ReadCloser, error) {
				rc, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				return &sendBody{rc: rc, w: w}, nil
			}
		}
	}
	resp, err := t.next.RoundTrip(r)
	stalled := w.received()
	if err != nil {
		w.done()
		if stalled {
			return nil, &stallError{timeout: t.timeout}
		}
		return nil, err
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		w.done()
		return resp, nil
	}
	resp.Body = &receiveBody{rc: resp.Body, w: w}
	return resp, nil
}

// watchdog is the clock of one request.
type watchdog struct {
	timeout time.Duration
	cancel  context.CancelCauseFunc

	mu      sync.Mutex
	timer   *time.Timer
	sending bool // the request is still being sent or awaits its headers
	fired   bool
	over    bool
}

// fire aborts the request.
func (w *watchdog) fire() {
	w.mu.Lock()
	if w.over {
		w.mu.Unlock()
		return
	}
	w.fired = true
	w.mu.Unlock()
	w.cancel(&stallError{timeout: w.timeout})
}

// sent restarts the clock while the request is sent.
func (w *watchdog) sent() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sending && !w.fired && !w.over {
		w.timer.Reset(w.timeout)
	}
}

// received stops the clock once the round trip returned and reports whether
// it had fired.
func (w *watchdog) received() (stalled bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sending = false
	w.timer.Stop()
	return w.fired
}

// arm starts the clock before a wait for response bytes; it reports false
// when the request was already aborted.
func (w *watchdog) arm() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired || w.over {
		return !w.fired
	}
	w.timer.Reset(w.timeout)
	return true
}

// disarm stops the clock after a wait and reports whether it had fired.
func (w *watchdog) disarm() (stalled bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer.Stop()
	return w.fired
}

// done stops the clock for good and releases the request's context.
func (w *watchdog) done() {
	w.mu.Lock()
	w.over = true
	w.timer.Stop()
	w.mu.Unlock()
	w.cancel(nil)
}

// sendBody is a request body whose reads show progress.
type sendBody struct {
	rc io.ReadCloser
	w  *watchdog
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.w.sent()
	return b.rc.Read(p)
}

func (b *sendBody) Close() error { return b.rc.Close() }

// receiveBody is a response body whose reads must not wait longer than the
// timeout.
type receiveBody struct {
	rc io.ReadCloser
	w  *watchdog
}

func (b *receiveBody) Read(p []byte) (int, error) {
	if !b.w.arm() {
		return 0, &stallError{timeout: b.w.timeout}
	}
	n, err := b.rc.Read(p)
	if b.w.disarm() && err != nil && err != io.EOF {
		return n, &stallError{timeout: b.w.timeout}
	}
	return n, err
}

func (b *receiveBody) Close() error {
	err := b.rc.Close()
	b.w.done()
	return err
}
