// Package pkgdb reads the package databases an image's filesystem holds and
// says which files each package owns.
//
// It knows Debian and Ubuntu (/var/lib/dpkg/status, the file lists
// /var/lib/dpkg/info/*.list and apt's /var/lib/apt/extended_states for the
// automatically installed ones), Alpine (/lib/apk/db/installed), Python
// (*.dist-info/RECORD), Node (node_modules/*/package.json) and Go binaries
// (the module list of their build info). RPM databases need rpm's own
// libraries to read (Berkeley DB, or sqlite holding rpm's binary headers):
// Unreadable names them so that the caller can say their files count as
// unowned.
//
// The package is pure: the caller hands in the content of the database files
// (Wanted says which), so that it can read them from layer tars, a directory
// or a test table alike.
package pkgdb
