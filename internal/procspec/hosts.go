package procspec

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// ExtraHost is a name added to a process's /etc/hosts, as docker build's
// --add-host adds it.
type ExtraHost struct {
	Name string
	IP   string
}

// ParseExtraHost parses docker's --add-host value: NAME:IP or NAME=IP (an
// IPv6 address after the first ":" or "=" keeps its colons).
func ParseExtraHost(s string) (ExtraHost, error) {
	sep := strings.IndexAny(s, ":=")
	if sep <= 0 {
		return ExtraHost{}, fmt.Errorf("%q: want NAME:IP, such as db.local:10.0.0.5", s)
	}
	h := ExtraHost{Name: s[:sep], IP: strings.Trim(s[sep+1:], "[]")}
	if h.IP == "host-gateway" {
		return ExtraHost{}, fmt.Errorf("%q: strata has no gateway address to put for host-gateway (RUN shares the host's network): give the IP", s)
	}
	if net.ParseIP(h.IP) == nil {
		return ExtraHost{}, fmt.Errorf("%q: %q is not an IP address", s, h.IP)
	}
	if strings.ContainsAny(h.Name, " \t\n#") {
		return ExtraHost{}, fmt.Errorf("%q: %q is not a host name", s, h.Name)
	}
	return h, nil
}

// hostsSuffix names the hosts file of a set of extra hosts: "" for none,
// else a digest of them, so that each set has its own file.
func hostsSuffix(extra []ExtraHost) string {
	if len(extra) == 0 {
		return ""
	}
	h := sha256.New()
	for _, e := range extra {
		fmt.Fprintf(h, "%s\x00%s\x00", e.Name, e.IP)
	}
	return "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// loopbackHosts is the hosts file of a process without the host's network,
// and the end of the host's copy: the process's own name resolves.
const loopbackHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// HostFiles returns the hosts and resolv.conf files for a process in
// network, kept in dir ("hosts-NETWORK", "resolv.conf-NETWORK") and written
// when missing: for host, the host's own files (loopback names when the
// host has no hosts file), the process's hostname
// added to hosts; for none, loopback names only and no resolver. Each file
// is written whole and renamed into place, so concurrent callers sharing
// dir see either no file or a complete one. The extra hosts (--add-host)
// end the hosts file, "IP\tNAME" each, as BuildKit writes them; each set
// of them has a file of its own.
func HostFiles(dir, network string, extra ...ExtraHost) (hosts, resolv string, err error) {
	return HostFilesFor(dir, network, Hostname, extra...)
}

// HostFilesFor is HostFiles for a process whose hostname is not Hostname
// (strata run's container): its hosts file names hostname, and is kept
// apart ("hosts-NETWORK[-EXTRA]-HOSTNAME").
func HostFilesFor(dir, network, hostname string, extra ...ExtraHost) (hosts, resolv string, err error) {
	if err := checkNetwork(network); err != nil {
		return "", "", err
	}
	if dir == "" {
		return "", "", errors.New("procspec: no directory for the hosts files")
	}
	hosts = filepath.Join(dir, "hosts-"+network+hostsSuffix(extra))
	if hostname != Hostname {
		hosts += "-" + hostname
	}
	resolv = filepath.Join(dir, "resolv.conf-"+network)
	h := []byte(loopbackHosts)
	var r []byte
	if network == NetworkHost {
		switch b, err := os.ReadFile("/etc/hosts"); {
		case err == nil:
			h = b
			if len(h) > 0 && h[len(h)-1] != '\n' {
				h = append(h, '\n')
			}
		case !errors.Is(err, os.ErrNotExist):
			return "", "", fmt.Errorf("reading the host's /etc/hosts: %w", err)
		}
		if r, err = os.ReadFile("/etc/resolv.conf"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("reading the host's /etc/resolv.conf: %w", err)
		}
	}
	h = append(h, "127.0.1.1\t"+hostname+"\n"...)
	for _, e := range extra {
		h = append(h, e.IP+"\t"+e.Name+"\n"...)
	}
	if err := writeOnce(hosts, h); err != nil {
		return "", "", err
	}
	if err := writeOnce(resolv, r); err != nil {
		return "", "", err
	}
	return hosts, resolv, nil
}

// writeOnce writes data to path unless path exists, through a temporary
// file renamed into place.
func writeOnce(path string, data []byte) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return nil
}
