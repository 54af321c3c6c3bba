package e2e

import (
	"strings"
	"testing"
)

// TestBuildRunSettings: --add-host, --shm-size and --ulimit reach every
// RUN (its /etc/hosts, the size of /dev/shm, the command's limits), are
// part of the RUN's cache key, and leave nothing in the image.
func TestBuildRunSettings(t *testing.T) {
	s := newStrata(t)
	df := "FROM busybox\n" +
		"RUN grep -E 'db\\.local|v6\\.local' /etc/hosts > /hosts; df -k /dev/shm | tail -n 1 | awk '{print $2}' > /shm; " +
		"ulimit -n > /nofile; ulimit -Hn > /nofile-hard\n"
	ctx := bldContext(t, df, nil)
	s.must("build", "-t", "settings", "--add-host", "db.local:10.1.2.3", "--add-host", "v6.local=fd00::7",
		"--shm-size", "32m", "--ulimit", "nofile=1000:1500", ctx)
	e := bldExport(t, s, "settings")
	for name, want := range map[string]string{
		"hosts":       "10.1.2.3\tdb.local\nfd00::7\tv6.local\n",
		"shm":         "32768\n",
		"nofile":      "1000\n",
		"nofile-hard": "1500\n",
	} {
		if got := bldFile(t, e, name); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
	if _, ok := e["etc/hosts"]; ok {
		t.Errorf("/etc/hosts of the RUN reached the image")
	}

	// Without the flags: docker's defaults, and a different cache key.
	r := s.must("build", "--progress=plain", "-t", "defaults", ctx)
	if st := bldStatus(t, r.stderr, "RUN grep"); st != "DONE" {
		t.Errorf("the RUN without the flags: %s, want DONE (the flags are part of its key)", st)
	}
	e = bldExport(t, s, "defaults")
	if got := bldFile(t, e, "shm"); got != "65536\n" {
		t.Errorf("default /dev/shm = %q KiB, want 65536", got)
	}
	if got := bldFile(t, e, "hosts"); got != "" {
		t.Errorf("hosts without --add-host = %q, want none", got)
	}
	r = s.must("build", "--progress=plain", "-t", "settings2", "--add-host", "db.local:10.1.2.3", "--add-host", "v6.local=fd00::7",
		"--shm-size", "32m", "--ulimit", "nofile=1000:1500", ctx)
	if st := bldStatus(t, r.stderr, "RUN grep"); st != "CACHED" {
		t.Errorf("the same flags again: %s, want CACHED", st)
	}
}

// TestBuildRunSettingsRefused: bad values and --cgroup-parent fail before
// anything runs, saying why.
func TestBuildRunSettingsRefused(t *testing.T) {
	s := newStrata(t)
	ctx := bldContext(t, "FROM busybox\nRUN touch /ran\n", nil)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"add-host without ip", []string{"--add-host", "db.local"}, "want NAME:IP"},
		{"add-host bad ip", []string{"--add-host", "db.local:10.1"}, "is not an IP address"},
		{"add-host host-gateway", []string{"--add-host", "gw:host-gateway"}, "host-gateway"},
		{"shm-size", []string{"--shm-size", "lots"}, "--shm-size \"lots\""},
		{"ulimit name", []string{"--ulimit", "files=10"}, "invalid ulimit type"},
		{"ulimit soft above hard", []string{"--ulimit", "nofile=20:10"}, "soft limit must be less"},
		{"cgroup-parent", []string{"--cgroup-parent", "/build"}, "--cgroup-parent \"/build\": strata runs RUN steps in the cgroup of strata itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.run(append(append([]string{"build", "--progress=plain"}, tt.args...), ctx)...)
			if r.code == 0 {
				t.Fatalf("build %v succeeded, want a refusal", tt.args)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to say %q", r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, "RUN touch") {
				t.Errorf("the RUN started before the refusal:\n%s", r.stderr)
			}
		})
	}
}
