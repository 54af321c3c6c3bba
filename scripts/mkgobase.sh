#!/usr/bin/env bash
# mkgobase.sh OUT.tar - the root filesystem of the strata image's Go build
# stage: busybox (scripts/mkbusybox.sh) and the Go toolchain of this machine
# (GOROOT, the version go.mod asks for) in /usr/local/go. Debian's
# golang-go (1.19 in bookworm) is too old to build strata.
set -euo pipefail
out=${1:?usage: mkgobase.sh OUT.tar}
here=$(cd "$(dirname "$0")" && pwd)
goroot=$(go env GOROOT)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$here/mkbusybox.sh" "$d/busybox.tar"
mkdir "$d/root"
tar -xf "$d/busybox.tar" -C "$d/root"
mkdir -p "$d/root/usr/local"
cp -a "$goroot" "$d/root/usr/local/go"
tar --sort=name --numeric-owner -C "$d/root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
