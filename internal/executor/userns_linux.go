package executor

import "github.com/strata-build/strata/internal/rootless"

// overlayOptions returns the options of an overlay mount: overlayExtras when
// extras is true, and, inside a user namespace (rootless strata), the
// userxattr flag, without which overlay cannot keep its opaque markers there
// (the trusted.overlay.* xattrs are out of reach; user.overlay.* serve).
func overlayOptions(extras bool) [][2]string {
	var opts [][2]string
	if extras {
		opts = append(opts, overlayExtras...)
	}
	if rootless.InUserNamespace() {
		opts = append(opts, [2]string{"userxattr", ""})
	}
	return opts
}
