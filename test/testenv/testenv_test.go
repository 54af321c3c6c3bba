package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFreeSubidStart(t *testing.T) {
	tests := []struct {
		name, text string
		want       int
	}{
		{"empty", "", 100000},
		{"below the default", "a:1000:10\n", 100000},
		{"highest end", "a:100000:65536\nb:165536:65536\n\na:300000:5\n", 300005},
		{"junk lines", "# comment\nx:y:z\nb:200000:10 \n", 200010},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FreeSubidStart(tt.text); got != tt.want {
				t.Errorf("FreeSubidStart(%q) = %d, want %d", tt.text, got, tt.want)
			}
		})
	}
}

func TestUnescapeMount(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`/a/b`, "/a/b"},
		{`/a\040b\011c`, "/a b\tc"},
		{`/a\\b`, `/a\\b`},
		{`/end\04`, `/end\04`},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := unescapeMount(tt.in); got != tt.want {
				t.Errorf("unescapeMount(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestDockerd starts a private daemon and asks it for its storage driver.
func TestDockerd(t *testing.T) {
	d := StartDockerd(t, DockerdOptions{Drivers: []string{"overlay2"}})
	out, err := d.Command(context.Background(), "info", "--format", "{{.Driver}}").Output()
	if err != nil {
		t.Fatalf("docker info: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "overlay2" {
		t.Errorf("storage driver %q, want overlay2", got)
	}
}

// TestDebianTarCold makes the Debian tarball in an empty cache, as on a
// fresh machine: a regular tar file (not the directory mmdebstrap makes of
// a name it does not know), found again without a second mmdebstrap.
func TestDebianTarCold(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	p, err := DebianTar(context.Background(), cache)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < 10<<20 {
		t.Fatalf("%s: %v, %v: want a tarball of the root filesystem", p, fi, err)
	}
	out, err := exec.Command("tar", "-tf", p, "./etc/os-release").CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tf %s: %v\n%s", p, err, out)
	}
	again, err := DebianTar(context.Background(), cache)
	if err != nil || again != p {
		t.Fatalf("second call: %s, %v; want %s", again, err, p)
	}
}
