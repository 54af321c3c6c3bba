package procspec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// loopbackHosts is the hosts file of a process without the host's network,
// and the end of the host's copy: the process's own name resolves.
const loopbackHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// HostFiles returns the hosts and resolv.conf files for a process in
// network, kept in dir ("hosts-NETWORK", "resolv.conf-NETWORK") and written
// when missing: for host, the host's own files (loopback names when the
// host has no hosts file), the process's hostname
// added to hosts; for none, loopback names only and no resolver. Each file
// is written whole and renamed into place, so concurrent callers sharing
// dir see either no file or a complete one.
func HostFiles(dir, network string) (hosts, resolv string, err error) {
	return HostFilesFor(dir, network, Hostname)
}

// HostFilesFor is HostFiles for a process whose hostname is not Hostname
// (strata run's container): its hosts file names hostname, and is kept
// apart ("hosts-NETWORK-HOSTNAME").
func HostFilesFor(dir, network, hostname string) (hosts, resolv string, err error) {
	if err := checkNetwork(network); err != nil {
		return "", "", err
	}
	if dir == "" {
		return "", "", errors.New("procspec: no directory for the hosts files")
	}
	hosts = filepath.Join(dir, "hosts-"+network)
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
