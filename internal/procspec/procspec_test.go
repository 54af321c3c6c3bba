package procspec

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

const (
	basePasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"app:x:1000:1000:app:/home/app:/bin/sh\n" +
		"nohome:x:1003:1003:nohome::/bin/sh\n" +
		"bad:x:x:1002:bad:/:/bin/sh\n"
	baseGroup = "root:x:0:\nstaff:x:50:app\napp:x:1000:\ndevs:x:1500:\n"
)

// layerDir makes a layer dir in the overlay format from entries: a path
// ending in "/" is a directory, "/opaque" marks one opaque, the content
// "whiteout" makes a whiteout (a 0/0 character device, which needs root).
func layerDir(t *testing.T, entries map[string]string) string {
	t.Helper()
	d := t.TempDir()
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p := filepath.Join(d, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch v := entries[n]; {
		case strings.HasSuffix(n, "/"):
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			if v == "opaque" {
				if err := unix.Lsetxattr(p, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
					t.Fatalf("marking %s opaque (needs root): %v", n, err)
				}
			}
		case v == "whiteout":
			if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
				t.Fatalf("making the whiteout %s (needs root): %v", n, err)
			}
		default:
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return d
}

func baseLayer(t *testing.T) string {
	return layerDir(t, map[string]string{"etc/passwd": basePasswd, "etc/group": baseGroup})
}

func TestLookupUser(t *testing.T) {
	layers := []string{layerDir(t, map[string]string{"tmp/": ""}), baseLayer(t)}
	tests := []struct {
		spec    string
		broken  bool // the image's /etc/passwd has a line too long to read
		want    User
		wantErr string // in the message; the fix it suggests
	}{
		{spec: "", want: User{UID: 0, GID: 0, Groups: []int{}, Home: "/root"}},
		{spec: "app", want: User{UID: 1000, GID: 1000, Groups: []int{50}, Home: "/home/app"}},
		{spec: "1000", want: User{UID: 1000, GID: 1000, Groups: []int{50}, Home: "/home/app"}},
		{spec: "app:staff", want: User{UID: 1000, GID: 50, Groups: []int{}, Home: "/home/app"}},
		{spec: "app:1500", want: User{UID: 1000, GID: 1500, Groups: []int{}, Home: "/home/app"}},
		{spec: "1000:devs", want: User{UID: 1000, GID: 1500, Groups: []int{}, Home: "/home/app"}},
		{spec: "1000:1500", want: User{UID: 1000, GID: 1500, Groups: []int{}, Home: "/home/app"}},
		// An unknown uid runs as is with gid 0, as docker run --user 4242 does.
		{spec: "4242", want: User{UID: 4242, GID: 0, Groups: []int{}, Home: "/"}},
		{spec: "4242:4343", want: User{UID: 4242, GID: 4343, Groups: []int{}, Home: "/"}},
		{spec: "nohome", want: User{UID: 1003, GID: 1003, Groups: []int{}, Home: "/"}},
		{spec: "ghost", wantErr: `user "ghost": no matching entries in passwd file of the image: add the user in an earlier RUN (adduser or useradd) or use a numeric uid`},
		{spec: "app:ghosts", wantErr: "add the group in an earlier RUN (addgroup or groupadd) or use a numeric gid"},
		{spec: "bad", wantErr: `line 4 of the image's /etc/passwd has the id "x", which is not a number`},
		{spec: "-1", wantErr: "user \"-1\""},
		{spec: "-1:0", wantErr: "user \"-1:0\""},
		// uid:gid needs no user database: a broken one does not stop it.
		{spec: "77:78", broken: true, want: User{UID: 77, GID: 78, Groups: []int{}, Home: "/"}},
		{spec: "0:0", broken: true, want: User{UID: 0, GID: 0, Groups: []int{}, Home: "/"}},
		{spec: "root", broken: true, wantErr: "token too long"},
	}
	broken := []string{layerDir(t, map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n" + strings.Repeat("x", 100000) + "\n"})}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			layers := layers
			if tt.broken {
				layers = broken
			}
			got, err := LookupUser(layers, tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LookupUser(%q) = %+v, %v; want an error with %q", tt.spec, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("LookupUser(%q) (-got +want):\n%s", tt.spec, diff)
			}
		})
	}
}

// TestLookupUserWhiteouts: a user database a later layer deleted is not
// read, however the layer deleted it.
func TestLookupUserWhiteouts(t *testing.T) {
	tests := []struct {
		name string
		top  map[string]string
	}{
		{"passwd whited out", map[string]string{"etc/passwd": "whiteout", "etc/group": "whiteout"}},
		{"etc opaque", map[string]string{"etc/": "opaque", "etc/motd": "hi\n"}},
		{"etc whited out", map[string]string{"etc": "whiteout"}},
		{"etc replaced by a file", map[string]string{"etc": "not a dir\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The top layer hides the base's files; the middle one changes nothing.
			layers := []string{layerDir(t, tt.top), layerDir(t, map[string]string{"tmp/x": ""}), baseLayer(t)}
			_, err := LookupUser(layers, "app")
			if !errors.Is(err, user.ErrNoPasswdEntries) || !strings.Contains(err.Error(), "the image has no /etc/passwd") {
				t.Errorf("LookupUser(app) error %v, want the image has no /etc/passwd", err)
			}
			got, err := LookupUser(layers, "1000")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, User{UID: 1000, GID: 0, Groups: []int{}, Home: "/"}); diff != "" {
				t.Errorf("LookupUser(1000) (-got +want):\n%s", diff)
			}
			if uid, gid, warn, err := LookupOwner(layers, "app"); err != nil || uid != 0 || gid != 0 || !strings.Contains(warn, "unknown user") {
				t.Errorf("LookupOwner(app) = %d:%d, %q, %v; want 0:0 with a warning, as BuildKit's readUser", uid, gid, warn, err)
			}
		})
	}
	// A later layer that rewrites /etc/passwd without the user.
	layers := []string{layerDir(t, map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"}), baseLayer(t)}
	if _, err := LookupUser(layers, "app"); !errors.Is(err, user.ErrNoPasswdEntries) {
		t.Errorf("LookupUser(app) after the user's removal: error %v, want %v", err, user.ErrNoPasswdEntries)
	}
}

func TestLookupOwner(t *testing.T) {
	layers := []string{baseLayer(t)}
	tests := []struct {
		spec     string
		uid, gid int
		wantErr  string
		wantWarn string
	}{
		{spec: "app", uid: 1000, gid: 1000},
		{spec: "1000", uid: 1000, gid: 1000},
		{spec: "4242", uid: 4242, gid: 4242},
		{spec: "app:staff", uid: 1000, gid: 50},
		{spec: "app:7", uid: 1000, gid: 7},
		{spec: "ghost", uid: 0, gid: 0, wantWarn: `unknown user "ghost"`},
		{spec: "app:ghosts", uid: 1000, gid: 1000, wantWarn: `unknown group "ghosts"`},
		{spec: "bad", wantErr: "which is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			uid, gid, warn, err := LookupOwner(layers, tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LookupOwner(%q) = %d:%d, %v; want an error with %q", tt.spec, uid, gid, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if uid != tt.uid || gid != tt.gid {
				t.Errorf("LookupOwner(%q) = %d:%d, want %d:%d", tt.spec, uid, gid, tt.uid, tt.gid)
			}
			if (tt.wantWarn == "") != (warn == "") || !strings.Contains(warn, tt.wantWarn) {
				t.Errorf("LookupOwner(%q) warning %q, want one with %q", tt.spec, warn, tt.wantWarn)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	layers := []string{baseLayer(t)}
	tests := []struct {
		name    string
		spec    Spec
		want    Process
		wantErr string
	}{
		{
			name: "defaults",
			spec: Spec{Args: []string{"id"}},
			want: Process{Args: []string{"id"}, Env: []string{"PATH=" + DefaultPath, "HOME=/root"}, Dir: "/", Groups: []int{}, Home: "/root", Network: NetworkHost},
		},
		{
			name: "image config kept",
			spec: Spec{Args: []string{"sh", "-c", "x"}, Env: []string{"PATH=/bin", "HOME=/h", "A=1"}, User: "app", WorkingDir: "/w", Network: NetworkNone},
			want: Process{Args: []string{"sh", "-c", "x"}, Env: []string{"PATH=/bin", "HOME=/h", "A=1"}, Dir: "/w", UID: 1000, GID: 1000, Groups: []int{50}, Home: "/home/app", Network: NetworkNone},
		},
		{
			name: "home of the user",
			spec: Spec{Args: []string{"id"}, Env: []string{"PATHX=1"}, User: "app"},
			want: Process{Args: []string{"id"}, Env: []string{"PATHX=1", "PATH=" + DefaultPath, "HOME=/home/app"}, Dir: "/", UID: 1000, GID: 1000, Groups: []int{50}, Home: "/home/app", Network: NetworkHost},
		},
		{name: "no command", spec: Spec{}, wantErr: "no command to run"},
		{name: "unknown network", spec: Spec{Args: []string{"id"}, Network: "bridge"}, wantErr: `unknown network "bridge": use host or none`},
		{name: "unknown user", spec: Spec{Args: []string{"id"}, User: "ghost"}, wantErr: "adduser or useradd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.spec.Layers, tt.spec.HostsDir = layers, dir
			got, err := Resolve(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve = %+v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Hostname = Hostname
			tt.want.HostsFile = filepath.Join(dir, "hosts-"+tt.want.Network)
			tt.want.ResolvConf = filepath.Join(dir, "resolv.conf-"+tt.want.Network)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Resolve (-got +want):\n%s", diff)
			}
		})
	}
}

func TestHostFiles(t *testing.T) {
	hostHosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	hostResolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(hostHosts) > 0 && hostHosts[len(hostHosts)-1] != '\n' {
		hostHosts = append(hostHosts, '\n')
	}
	tests := []struct {
		network      string
		hosts, resol string
	}{
		{NetworkHost, string(hostHosts) + "127.0.1.1\tstrata\n", string(hostResolv)},
		{NetworkNone, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tstrata\n", ""},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.network, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make([]error, 8)
			paths := make([][2]string, 8)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h, r, err := HostFiles(dir, tt.network)
					paths[i], errs[i] = [2]string{h, r}, err
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
				if paths[i] != paths[0] {
					t.Errorf("call %d returned %v, call 0 %v", i, paths[i], paths[0])
				}
			}
			gotHosts, _ := os.ReadFile(paths[0][0])
			gotResolv, _ := os.ReadFile(paths[0][1])
			if string(gotHosts) != tt.hosts {
				t.Errorf("hosts = %q, want %q", gotHosts, tt.hosts)
			}
			if string(gotResolv) != tt.resol {
				t.Errorf("resolv.conf = %q, want %q", gotResolv, tt.resol)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"hosts-host", "hosts-none", "resolv.conf-host", "resolv.conf-none"}; !slices.Equal(names, want) {
		t.Errorf("the hosts dir holds %v, want %v (no temporary files left)", names, want)
	}
	if _, _, err := HostFiles(dir, "bridge"); err == nil {
		t.Error("HostFiles(bridge) succeeded, want an error")
	}
}

func TestParseExtraHost(t *testing.T) {
	tests := []struct {
		in      string
		want    ExtraHost
		wantErr string
	}{
		{in: "db:10.0.0.5", want: ExtraHost{Name: "db", IP: "10.0.0.5"}},
		{in: "db=10.0.0.5", want: ExtraHost{Name: "db", IP: "10.0.0.5"}},
		{in: "v6:fd00::1", want: ExtraHost{Name: "v6", IP: "fd00::1"}},
		{in: "v6=[::1]", want: ExtraHost{Name: "v6", IP: "::1"}},
		{in: "db", wantErr: "want NAME:IP"},
		{in: ":10.0.0.5", wantErr: "want NAME:IP"},
		{in: "db:nope", wantErr: "is not an IP address"},
		{in: "gw:host-gateway", wantErr: "give the IP"},
		{in: "a b:10.0.0.5", wantErr: "is not a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseExtraHost(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseExtraHost(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseExtraHost(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestHostFilesExtraHosts(t *testing.T) {
	dir := t.TempDir()
	plain, _, err := HostFiles(dir, NetworkNone)
	if err != nil {
		t.Fatal(err)
	}
	extra := []ExtraHost{{Name: "db", IP: "10.0.0.5"}, {Name: "v6", IP: "fd00::1"}}
	got, _, err := HostFiles(dir, NetworkNone, extra...)
	if err != nil {
		t.Fatal(err)
	}
	if got == plain {
		t.Fatalf("the hosts file with extra hosts is the plain one, %s", got)
	}
	data, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := loopbackHosts + "127.0.1.1\tstrata\n10.0.0.5\tdb\nfd00::1\tv6\n"; string(data) != want {
		t.Errorf("hosts = %q, want %q", data, want)
	}
}
