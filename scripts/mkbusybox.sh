#!/usr/bin/env bash
# mkbusybox.sh OUT.tar - a busybox root filesystem tarball from Debian's
# busybox-static: /bin/busybox, one symlink per applet, /etc/passwd and
# /etc/group with root, app (1000) and nobody, /tmp, /root, /home/app.
# The same busybox binary always gives the same tarball.
set -euo pipefail
out=${1:?usage: mkbusybox.sh OUT.tar}
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "mkbusybox.sh: $bb not found: apt-get install busybox-static" >&2; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home/app,var/tmp}
cp "$bb" "$d/bin/busybox"
for app in $("$bb" --list-full); do
  [ "$app" = bin/busybox ] || ln -sfn /bin/busybox "$d/$app"
done
chmod 755 "$d"
cat >"$d/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$d/etc/group" <<'G'
root:x:0:
staff:x:50:app
app:x:1000:
nogroup:x:65534:
G
chmod 1777 "$d/tmp" "$d/var/tmp"
chmod 700 "$d/root"
chown 1000:1000 "$d/home/app"
find "$d" -exec touch -h -d @1577836800 {} +
tar --sort=name --numeric-owner --mtime=@1577836800 -C "$d" -cf "$out" .
