package e2e

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// flakyProxy is a reverse proxy in front of a registry that breaks some of
// the blob and manifest requests it forwards: it drops the connection in the
// middle of a blob (either way), answers 503 without forwarding, or stalls
// before answering (then forwards, or drops).
type flakyProxy struct {
	rp *httputil.ReverseProxy

	mu      sync.Mutex
	n       int            // blob and manifest requests seen
	faults  map[string]int // injected, by kind
	every   int            // one request in every is broken (0: none)
	budget  int            // faults left to inject with every
	failAll func(*http.Request) bool
}

func newFlakyProxy(t *testing.T, registry string) *flakyProxy {
	t.Helper()
	u, err := url.Parse("http://" + registry)
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{rp: httputil.NewSingleHostReverseProxy(u), faults: map[string]int{}}
	p.rp.ErrorLog = log.New(io.Discard, "", 0)
	return p
}

// cutReader fails after n bytes, as a connection that drops mid-body.
type cutReader struct {
	r io.ReadCloser
	n int
}

var errCut = errors.New("flaky proxy: connection dropped")

func (c *cutReader) Read(b []byte) (int, error) {
	if c.n <= 0 {
		return 0, errCut
	}
	if len(b) > c.n {
		b = b[:c.n]
	}
	n, err := c.r.Read(b)
	c.n -= n
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }

// fault picks what to do to r: "" (forward it), or a kind of fault.
func (p *flakyProxy) fault(r *http.Request) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !strings.Contains(r.URL.Path, "/blobs/") && !strings.Contains(r.URL.Path, "/manifests/") {
		return ""
	}
	if p.failAll != nil && p.failAll(r) {
		p.faults["manifest refused"]++
		return "400"
	}
	p.n++
	if p.every == 0 || p.budget <= 0 || p.n%p.every != 1 {
		return ""
	}
	p.budget--
	// Where blob bytes flow, cut them in the middle; elsewhere cycle
	// through the other faults.
	kinds := []string{"503", "stall", "stall+drop", "drop before answering"}
	k := kinds[(p.n/p.every)%len(kinds)]
	switch {
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:"):
		k = "drop mid-download"
	case r.Method == http.MethodPatch && r.ContentLength != 0:
		k = "drop mid-upload"
	}
	p.faults[k]++
	return k
}

func (p *flakyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch k := p.fault(r); k {
	case "":
		p.rp.ServeHTTP(w, r)
	case "503":
		http.Error(w, "flaky proxy: unavailable", http.StatusServiceUnavailable)
	case "400":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"flaky proxy: manifest refused"}]}`)
	case "stall":
		time.Sleep(800 * time.Millisecond)
		p.rp.ServeHTTP(w, r)
	case "stall+drop", "drop before answering":
		if k == "stall+drop" {
			time.Sleep(800 * time.Millisecond)
		}
		panic(http.ErrAbortHandler) // the server closes the connection
	case "drop mid-upload":
		io.CopyN(io.Discard, r.Body, 4096)
		panic(http.ErrAbortHandler)
	case "drop mid-download":
		rp := *p.rp
		rp.ModifyResponse = func(resp *http.Response) error {
			resp.Body = &cutReader{r: resp.Body, n: 8192}
			return nil
		}
		rp.ServeHTTP(w, r) // ReverseProxy aborts the connection when the body fails
	}
}

func (p *flakyProxy) injected() (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0
	var parts []string
	for k, n := range p.faults {
		total += n
		parts = append(parts, fmt.Sprintf("%s: %d", k, n))
	}
	return total, strings.Join(parts, ", ")
}

// TestFlakyRegistry pushes and pulls through a proxy that breaks one blob
// or manifest request in three (push) or two (pull), up to a budget:
// dropped mid-blob, 503, stalled, stalled then dropped. Both finish, and the
// pulled image is the pushed one. Then a push whose manifest is refused
// fails, and the registry has no tag for it (asked directly, past the
// proxy).
func TestFlakyRegistry(t *testing.T) {
	reg := startRegistry(t)
	proxy := newFlakyProxy(t, reg)
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	s := newStrata(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN dd if=/dev/urandom of=/r1 bs=1k count=384 2>/dev/null\nRUN dd if=/dev/urandom of=/r2 bs=1k count=256 2>/dev/null && md5sum /r1 /r2 > /sums\n",
	})
	s.must("build", "--progress", "plain", "-t", "flaky:1", dir)
	sums := s.must("run", "--rm", "flaky:1", "cat", "/sums").stdout

	proxy.mu.Lock()
	proxy.every, proxy.budget = 3, 8
	proxy.mu.Unlock()
	ref := addr + "/e2e/flaky:1"
	start := time.Now()
	s.must("push", "flaky:1", ref)
	pushed, _ := proxy.injected()
	t.Logf("push through the flaky proxy: %v, %d faults survived", time.Since(start).Round(time.Millisecond), pushed)

	p := newStrata(t)
	proxy.mu.Lock()
	proxy.every, proxy.budget = 2, 6
	proxy.mu.Unlock()
	start = time.Now()
	p.must("pull", ref)
	total, kinds := proxy.injected()
	t.Logf("pull through the flaky proxy: %v, %d faults survived", time.Since(start).Round(time.Millisecond), total-pushed)
	if pushed == 0 || total == pushed {
		t.Errorf("faults injected: push %d, pull %d; want some in each", pushed, total-pushed)
	}
	if got := p.must("run", "--rm", ref, "cat", "/sums").stdout; got != sums {
		t.Errorf("the pulled image's /sums = %q, want %q", got, sums)
	}
	if got := p.must("run", "--rm", ref, "md5sum", "/r1", "/r2").stdout; got != sums {
		t.Errorf("the pulled image's files sum to %q, want %q", got, sums)
	}
	relMustFsck(t, p, "after the flaky pull")

	// A push whose blobs get through but whose manifest is refused: it
	// fails, and no tag points at the partial image. (A refusal, not a
	// 5xx: retries with the default schedule take half a minute to give
	// up, which TestFlakyRegistry measured once: 33 s, 21 503s, no tag.)
	proxy.mu.Lock()
	proxy.every = 0
	proxy.failAll = func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, "/e2e/partial/manifests/") && r.Method == http.MethodPut
	}
	proxy.mu.Unlock()
	s.must("build", "--progress", "plain", "-t", "flaky:2", writeContext(t, map[string]string{
		"Dockerfile": "FROM flaky:1\nRUN dd if=/dev/urandom of=/r3 bs=1k count=64 2>/dev/null\n",
	}))
	start = time.Now()
	r := s.run("push", "flaky:2", addr+"/e2e/partial:1")
	if r.code == 0 {
		t.Fatalf("the push succeeded through a proxy that fails every upload:\n%s", r.stdout)
	}
	t.Logf("failing push gave up after %v: %s", time.Since(start).Round(time.Millisecond), lastLine(r.stderr))
	if !strings.Contains(r.stderr, "manifest refused") {
		t.Errorf("the failed push does not say what the registry answered: %q", r.stderr)
	}
	for _, path := range []string{"/v2/e2e/partial/manifests/1", "/v2/e2e/partial/tags/list"} {
		resp, err := http.Get("http://" + reg + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on the registry: %s %s; want 404, no tag after a failed push", path, resp.Status, body)
		}
	}
	total, kinds = proxy.injected()
	t.Logf("faults injected in all: %d (%s)", total, kinds)
}
