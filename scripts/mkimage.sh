#!/usr/bin/env bash
# mkimage.sh [TAG] - strata's own image, built by strata (bin/strata, or
# $STRATA) from ./Dockerfile into strata's store (STRATA_ROOT or the
# default), then saved as a docker archive to $OUT (default
# bin/strata-image.tar) for `docker load` or `strata push`.
#
# The context is a scratch copy of the repository's files with the Go
# modules vendored from this machine's module cache (go mod vendor), so that
# the build needs no network and no TLS proxy inside RUN. The base images
# are made here: busybox (scripts/mkbusybox.sh) and busybox with this
# machine's Go toolchain (scripts/mkgobase.sh), cached in $CACHE.
set -euo pipefail
tag=${1:-strata:dev}
strata=${STRATA:-bin/strata}
out=${OUT:-bin/strata-image.tar}
cache=${CACHE:-/var/cache/strata-conformance}
mkdir -p "$cache"
gover=$(go env GOVERSION)
gobase=$cache/strata-go-$gover.tar
[ -f "$gobase" ] || scripts/mkgobase.sh "$gobase"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
scripts/mkbusybox.sh "$ctx/busybox.tar"
"$strata" import "$ctx/busybox.tar" strata-base/busybox:local >/dev/null
"$strata" import "$gobase" "strata-base/go:$gover" >/dev/null
rm "$ctx/busybox.tar"
git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$ctx"
go mod vendor -o "$ctx/vendor"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
"$strata" build -t "$tag" --build-arg "GO_IMAGE=strata-base/go:$gover" \
	--build-arg BASE_IMAGE=strata-base/busybox:local "$ctx"
"$strata" save -o "$out" "$tag"
echo "$tag saved to $out (docker load -i $out)"
