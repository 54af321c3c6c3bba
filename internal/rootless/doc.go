// Package rootless lets an ordinary user run strata: the process re-executes
// itself as root of a new user namespace whose ids are mapped through
// /etc/subuid and /etc/subgid.
//
// # How it works
//
// [Enter], called in main right after the executor's entry point, does
// nothing for root. For any other user it checks the setup (newuidmap and
// newgidmap from Debian's uidmap package, a subordinate uid and gid range
// for the user, user namespaces enabled), then starts /proc/self/exe with the
// same arguments in new user and mount namespaces, as podman unshare and
// rootlesskit do. The parent writes the child's mappings with the setuid
// helpers:
//
//	newuidmap PID 0 UID 1 1 SUBUID_START SUBUID_COUNT
//	newgidmap PID 0 GID 1 1 SUBGID_START SUBGID_COUNT
//
// so that uid 0 inside is the user, and uids 1 to SUBUID_COUNT inside are the
// subordinate range. The child waits on a pipe until the mappings are written,
// then runs strata as uid 0 of its namespace with every capability there: the
// overlay mounts, the executor's namespaces, chown and the 0:0 whiteout
// devices work as they do for root, and a file chowned to 1000 in a RUN is
// owned by 1000 in the layer (it is SUBUID_START+999 on the host). The parent
// forwards signals, waits, and exits with the child's status.
//
// The store stays where the user's strata would put it ($XDG_DATA_HOME/strata
// by default): the parent passes the root it computed to the child in
// STRATA_ROOT, since inside the namespace the process is uid 0.
//
// # What differs inside a user namespace
//
// Overlayfs keeps its opaque-directory marker in the user.overlay.* xattrs
// (the userxattr mount option) rather than trusted.overlay.*, which only the
// initial namespace's root may set; [OverlayXattrPrefix] tells the layer
// extractor and the overlay mounts which one to use. Real device nodes cannot
// be created in a user namespace: a layer's character and block devices
// (other than whiteouts) are left out when a layer is extracted, as moby does.
package rootless
