#!/usr/bin/env bash
# demo.sh - strata's main job on a fresh machine: make the base images
# (busybox from busybox-static, debian:bookworm with mmdebstrap), then build
# the tutorial's single- and multi-stage hello images, run both, and compare
# their sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${STRATA:-./bin/strata}
CACHE=${STRATA_CACHE:-/var/cache/strata}
mkdir -p "$CACHE"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "busybox base from Debian's busybox-static"
scripts/mkbusybox.sh "$CACHE/busybox.tar"
$S import "$CACHE/busybox.tar" busybox:latest
$S images busybox
$S history busybox
$S export -o "$CACHE/busybox-export.tar" busybox
echo "exported $(tar -tf "$CACHE/busybox-export.tar" | wc -l) entries to $CACHE/busybox-export.tar"

step "debian:bookworm base (mmdebstrap --variant=minbase, cached in $CACHE)"
deb=$CACHE/debian-bookworm-minbase.tar
# STRATA_DEMO_COLD=1 (the cold-path test) never borrows the conformance cache.
if [ -z "${STRATA_DEMO_COLD:-}" ] && [ ! -s "$deb" ] && [ -s /var/cache/strata-conformance/debian-bookworm-minbase.tar ]; then
  deb=/var/cache/strata-conformance/debian-bookworm-minbase.tar
fi
if [ ! -s "$deb" ]; then
  # mmdebstrap picks its output format from the file name unless told:
  # --format=tar, so that the temporary name cannot make it a directory.
  rm -rf "$deb.tmp"
  mmdebstrap --variant=minbase --format=tar bookworm "$deb.tmp" </dev/null >"$CACHE/mmdebstrap.log" 2>&1 || {
    echo "mmdebstrap failed; see $CACHE/mmdebstrap.log" >&2; exit 1; }
  mv "$deb.tmp" "$deb"
fi
if ! $S inspect debian:bookworm >/dev/null 2>&1; then
  $S import "$deb" debian:bookworm
fi

step "single-stage hello (the toolchain stays in the image)"
$S build -t hello:single examples/hello
$S run --rm hello:single

step "multi-stage hello (only the binary is copied out of the compiler stage)"
$S build -t hello:multi -f examples/hello/Dockerfile.multi examples/hello
$S run --rm hello:multi

step "sizes: the base, the single-stage and the multi-stage image"
$S images
