// Package procspec turns an image config into the process the executor
// runs: the argv, the environment (with the default PATH when the image has
// none), the user resolved in the image's /etc/passwd and /etc/group (read
// through the layers, whiteouts honoured), the working directory, the
// hostname and the hosts and resolv.conf files. A build's RUN and
// `strata run` both make their process here, so that they agree.
package procspec

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultPath is the PATH of a process whose image sets none, as in Docker
// and BuildKit.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Hostname is the host name a process sees.
const Hostname = "strata"

// The networks a process can run in.
const (
	// NetworkHost shares the host's network; the host's hosts and
	// resolv.conf are used.
	NetworkHost = "host"
	// NetworkNone has only a loopback interface and no resolver.
	NetworkNone = "none"
)

// Spec is what a process is made from.
type Spec struct {
	// Layers are the image's layer dirs, top first (overlay lowerdir
	// order); files are read from them as the merged root shows them.
	Layers []string
	// Args is the argv.
	Args []string
	// Env is the environment, KEY=VALUE; PATH and HOME are added when
	// missing.
	Env []string
	// User is the image config's USER: user[:group], names or numbers;
	// empty means root.
	User string
	// WorkingDir is the working directory; empty means "/".
	WorkingDir string
	// Network is NetworkHost (the default when empty) or NetworkNone.
	Network string
	// Hostname is the process's host name; empty means Hostname.
	Hostname string
	// HostsDir is the directory the hosts and resolv.conf files are kept
	// in, one pair per network, written on first use.
	HostsDir string
	// ExtraHosts end the process's /etc/hosts (--add-host).
	ExtraHosts []ExtraHost
}

// Process is the process the executor runs.
type Process struct {
	Args []string
	Env  []string
	// Dir is the working directory inside the root.
	Dir string
	// UID and GID are the user and its primary group.
	UID, GID int
	// Groups are the supplementary groups.
	Groups []int
	// Home is the user's home directory from /etc/passwd, "/" when none.
	Home string
	// Network is the network the process runs in.
	Network  string
	Hostname string
	// HostsFile and ResolvConf are host paths of the files to mount on
	// /etc/hosts and /etc/resolv.conf.
	HostsFile, ResolvConf string
}

// Resolve returns the process of spec.
func Resolve(spec Spec) (Process, error) {
	if len(spec.Args) == 0 {
		return Process{}, errors.New("procspec: no command to run")
	}
	network := spec.Network
	if network == "" {
		network = NetworkHost
	}
	u, err := LookupUser(spec.Layers, spec.User)
	if err != nil {
		return Process{}, err
	}
	hostname := spec.Hostname
	if hostname == "" {
		hostname = Hostname
	}
	hosts, resolv, err := HostFilesFor(spec.HostsDir, network, hostname, spec.ExtraHosts...)
	if err != nil {
		return Process{}, err
	}
	env := WithDefaultPath(append([]string(nil), spec.Env...))
	if !hasKey(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	dir := spec.WorkingDir
	if dir == "" {
		dir = "/"
	}
	return Process{
		Args:       append([]string(nil), spec.Args...),
		Env:        env,
		Dir:        dir,
		UID:        u.UID,
		GID:        u.GID,
		Groups:     u.Groups,
		Home:       u.Home,
		Network:    network,
		Hostname:   hostname,
		HostsFile:  hosts,
		ResolvConf: resolv,
	}, nil
}

// WithDefaultPath returns env with PATH=DefaultPath added when it has no
// PATH, as BuildKit does to the config of an image whose base sets none.
func WithDefaultPath(env []string) []string {
	if hasKey(env, "PATH") {
		return env
	}
	return append(env, "PATH="+DefaultPath)
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// checkNetwork refuses a network other than host and none.
func checkNetwork(network string) error {
	if network != NetworkHost && network != NetworkNone {
		return fmt.Errorf("procspec: unknown network %q: use %s or %s", network, NetworkHost, NetworkNone)
	}
	return nil
}
