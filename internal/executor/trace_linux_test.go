package executor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTrace runs traced commands in the sandbox: the paths they name are
// the root's, and an HTTP probe reaches a server in the sandbox's own
// network namespace.
func TestTrace(t *testing.T) {
	lower := busyboxLayer(t)
	www := filepath.Join(lower, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from the sandbox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(lower, "bin", "httpd")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		uid        int
		http       *HTTPProbe
		wantExit   int
		wantPaths  []string
		wantStatus int
		wantBody   string
	}{
		{
			name:      "open, list, relative, exit status",
			args:      []string{"sh", "-c", "cat /deleteme >/dev/null; ls /tmp >/dev/null; cd /www && cat index.html >/dev/null; exit 4"},
			wantExit:  4,
			wantPaths: []string{"/bin/sh", "/deleteme", "/tmp", "/www/index.html"},
		},
		{
			name:      "relative paths of a non-root user",
			args:      []string{"sh", "-c", "cd /www && cat index.html >/dev/null && ls . >/dev/null"},
			uid:       65534,
			wantPaths: []string{"/bin/sh", "/www", "/www/index.html"},
		},
		{
			name:       "http probe",
			args:       []string{"httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"},
			http:       &HTTPProbe{Port: 8080, Path: "/index.html"},
			wantExit:   128 + 15,
			wantPaths:  []string{"/bin/httpd", "/www/index.html"},
			wantStatus: 200,
			wantBody:   "hello from the sandbox\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			spec := RunSpec{Rootfs: newRootfs(t, lower), Args: tc.args, UID: tc.uid, GID: tc.uid, Env: []string{"PATH=/bin"}, Network: "none", Stderr: &stderr}
			got, err := Trace(context.Background(), spec, TraceSpec{HTTP: tc.http, Wait: 10 * time.Second})
			if err != nil {
				t.Fatalf("Trace: %v (stderr %q)", err, stderr.String())
			}
			if got.Exit != tc.wantExit {
				t.Errorf("exit: got %d, want %d (stderr %q)", got.Exit, tc.wantExit, stderr.String())
			}
			seen := map[string]bool{}
			for _, p := range got.Paths {
				seen[p] = true
			}
			for _, w := range tc.wantPaths {
				if !seen[w] {
					t.Errorf("%s not traced; got %q", w, got.Paths)
				}
			}
			if tc.http == nil {
				return
			}
			if got.HTTP == nil || got.HTTP.Error != "" {
				t.Fatalf("http probe: got %+v", got.HTTP)
			}
			if got.HTTP.Status != tc.wantStatus || string(got.HTTP.Body) != tc.wantBody {
				t.Errorf("http probe: got %d %q, want %d %q", got.HTTP.Status, got.HTTP.Body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

// TestTraceCapabilities checks that the traced command does not get the
// CAP_SYS_PTRACE its tracer keeps: root has Docker's set, a user none.
func TestTraceCapabilities(t *testing.T) {
	lower := busyboxLayer(t)
	const docker = "00000000a80425fb"
	tests := []struct {
		name string
		uid  int
		want string
	}{
		{"root", 0, "CapInh:0000000000000000 CapPrm:" + docker + " CapEff:" + docker + " CapBnd:" + docker + " CapAmb:0000000000000000"},
		{"user", 65534, "CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:" + docker + " CapAmb:0000000000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			spec := RunSpec{
				Rootfs: newRootfs(t, lower), UID: tc.uid, GID: tc.uid, Env: []string{"PATH=/bin"},
				Args:   []string{"grep", "-E", "^Cap...:", "/proc/self/status"},
				Stdout: &stdout, Stderr: &stderr,
			}
			got, err := Trace(context.Background(), spec, TraceSpec{})
			if err != nil || got.Exit != 0 {
				t.Fatalf("Trace: exit %d, %v (stderr %q)", got.Exit, err, stderr.String())
			}
			if s := strings.Join(strings.Fields(strings.ReplaceAll(stdout.String(), ":\t", ":")), " "); s != tc.want {
				t.Errorf("got  %s\nwant %s", s, tc.want)
			}
		})
	}
}
