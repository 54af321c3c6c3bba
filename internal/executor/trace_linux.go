package executor

import (
	"fmt"
	"io"
	"net/http"
	"path"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/trace"
)

// traceCommand follows the traced command pid until it exits, running the
// HTTP probe meanwhile, and returns its status and what the trace saw. exe
// is the command's executable as it was found in the PATH: its exec is
// the one the tracer cannot see.
func traceCommand(cfg *childConfig, pid int, exe string) (int, *childMsg) {
	probe := make(chan *HTTPResponse, 1)
	if h := cfg.Trace.HTTP; h != nil {
		go func() {
			probe <- probeHTTP(h, cfg.Trace.Wait)
			stop(pid)
		}()
	}
	res, err := trace.Follow(pid)
	if err != nil {
		return res.Exit, &childMsg{Error: err.Error()}
	}
	if !path.IsAbs(exe) {
		exe = path.Join(cfg.Dir, exe)
	}
	msg := &childMsg{Paths: append(res.Paths, path.Clean(exe))}
	if cfg.Trace.HTTP != nil {
		select {
		case r := <-probe:
			msg.HTTP = r
		default:
			msg.HTTP = &HTTPResponse{Error: fmt.Sprintf("the command exited (status %d) before it answered", res.Exit)}
		}
	}
	return res.Exit, msg
}

// probeHTTP sends GET h.Path to 127.0.0.1:h.Port, from inside the
// sandbox's network namespace, until the command answers or wait is over.
// Redirects are answers; no proxy is used.
func probeHTTP(h *HTTPProbe, wait time.Duration) *HTTPResponse {
	if wait == 0 {
		wait = 30 * time.Second
	}
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", h.Port, h.Path)
	deadline := time.Now().Add(wait)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			r := &HTTPResponse{Status: resp.StatusCode, Body: body}
			if err != nil {
				r.Error = fmt.Sprintf("reading the answer to GET %s: %v", url, err)
			}
			return r
		}
		if time.Now().After(deadline) {
			return &HTTPResponse{Error: fmt.Sprintf("no answer to GET %s within %s: %v", url, wait, err)}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends the command SIGTERM, and SIGKILL ten seconds later.
func stop(pid int) {
	unix.Kill(pid, unix.SIGTERM)
	time.AfterFunc(10*time.Second, func() { unix.Kill(pid, unix.SIGKILL) })
}
