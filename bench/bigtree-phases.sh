#!/usr/bin/env bash
# bench/bigtree-phases.sh [RUNS] - where bigtree's RUN spends its time, in
# strata's sandbox and in BuildKit's, cold builds alternating (default 3
# pairs). The RUN does what bench/bigtree.sh does, a phase at a time, plus
# probes that split its longest phase, and prints one line of phase times
# (seconds, from /proc/uptime inside the RUN):
#
#   mkdir      the 200 directories
#   odawk      head | od | awk writing the 20,000 files (bigtree.sh's longest)
#   odtext     head | od > text.txt (100 MB)
#   rand       head -c 100M /dev/urandom > random.bin
#   odnull     head | od > /dev/null: the pipeline without awk or files
#   odawknull  head | od | awk computing the names, writing nothing
#   files20k   awk creating 20,000 files of one line, no pipeline
#
# The stores go where bench/run.sh's go (bench/fs.sh; BENCH_FS=auto|ext4|
# host, BENCH_WORK): on an ext4 without a journal, a journalled ext4 on a
# loop device with a private dockerd; otherwise the machine's dockerd
# (started when it is not running). strata's store is $BENCH_WORK/sr; bench-busybox (from
# busybox-static, scripts/mkbusybox.sh) is imported into both when missing.
# Before each build the tool's cache and its last image are removed (strata
# builder prune and image prune, docker builder prune and image prune), so
# that neither keeps the other's advantage. STRATA is the strata binary
# (default: built from this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1
WORK=${BENCH_WORK:-/tmp/bench-phases}
FS=${BENCH_FS:-auto}
KEEP=0
say() { printf '%s\n' "$*" >&2; }
# shellcheck source=bench/fs.sh
. bench/fs.sh
trap unmount_work EXIT
mount_work
start_dockerd
work=$WORK/phases
rm -rf "$work"
mkdir -p "$work"
if [ -z "${STRATA:-}" ]; then
  go build -o "$work/strata" ./cmd/strata
  STRATA=$work/strata
fi
export STRATA_ROOT=$WORK/sr
bb=/var/cache/strata/busybox.tar
[ -s "$bb" ] || scripts/mkbusybox.sh "$bb"
"$STRATA" inspect bench-busybox >/dev/null 2>&1 || "$STRATA" import "$bb" bench-busybox >/dev/null
$DOCKER image inspect bench-busybox >/dev/null 2>&1 || $DOCKER import "$bb" bench-busybox >/dev/null

mkdir "$work/ctx"
cat >"$work/ctx/phases.sh" <<'EOF'
#!/bin/sh
set -e
t() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mkdir -p /tree
cd /tree
t0=$(t)
d=0
while [ $d -lt 200 ]; do mkdir "d$d"; d=$((d + 1)); done
t1=$(t)
head -c 32640000 /dev/urandom | od -An -tx1 -v |
  awk '{ f = int((NR - 1) / 102); n = "d" int(f / 100) "/f" (f % 100); print > n; if (NR % 102 == 0) close(n) }'
t2=$(t)
head -c 32640000 /dev/urandom | od -An -tx1 -v >text.txt
t3=$(t)
head -c 104857600 /dev/urandom >random.bin
t4=$(t)
head -c 32640000 /dev/urandom | od -An -tx1 -v >/dev/null
t5=$(t)
head -c 32640000 /dev/urandom | od -An -tx1 -v |
  awk '{ f = int((NR - 1) / 102); n = "d" int(f / 100) "/f" (f % 100); x += length(n) } END { print x }' >/dev/null
t6=$(t)
awk 'BEGIN { for (i = 0; i < 20000; i++) { n = "d" int(i / 100) "/g" (i % 100); print "x" > n; close(n) } }'
t7=$(t)
echo "phases mkdir $(since $t0 $t1) odawk $(since $t1 $t2) odtext $(since $t2 $t3) rand $(since $t3 $t4)" \
  "odnull $(since $t4 $t5) odawknull $(since $t5 $t6) files20k $(since $t6 $t7)"
EOF
printf 'FROM bench-busybox\nCOPY phases.sh /\nRUN sh /phases.sh\n' >"$work/ctx/Dockerfile"

echo "# bigtree phases, $(date -u '+%F %H:%M') UTC, strata $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$runs"); do
  "$STRATA" builder prune -af >/dev/null
  "$STRATA" image prune -f >/dev/null
  sync
  echo "strata   $("$STRATA" build --no-cache --progress plain "$work/ctx" 2>&1 | grep -o 'phases .*')"
  $DOCKER builder prune -af >/dev/null
  $DOCKER image prune -f >/dev/null
  sync
  echo "buildkit $($DOCKER build --network host --progress plain "$work/ctx" 2>&1 | grep -o 'phases .*')"
done
