#!/usr/bin/env bash
# bench/pull.sh - `strata pull` plus the first run of the pulled image (which
# needs its layers extracted) against `docker pull` (docker 20.10, a private
# dockerd on overlay2), both from Debian's docker-registry on 127.0.0.1, into
# stores without the image. Prints, per image, the median of RUNS runs of
# each tool and strata's ratio to docker.
#
#   bench/pull.sh                     # RUNS=5, both images
#   RUNS=3 IMAGES=multi bench/pull.sh
#   STRATA=/path/to/strata bench/pull.sh   # another build of strata
#
# Images: debian (debian:bookworm from mmdebstrap --variant=minbase, one
# layer of 170 MB) and multi (busybox and five layers of about 100 MB each:
# 50 MB of random bytes, 50 MB of text and 2,000 small files). Each run
# starts cold: strata's store is removed; docker's image is removed and
# `docker image prune -af` run. The registry's blobs stay in the page cache,
# so the network is loopback and the figures measure the client. The stores
# go where bench/run.sh's go (bench/fs.sh; BENCH_FS=auto|ext4|host): on an
# ext4 without a journal, a journalled ext4 on a loop device, with the
# results and log in $BENCH_WORK.out.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
IMAGES=${IMAGES:-debian,multi}
WORK=${BENCH_WORK:-/tmp/bench-pull}
PORT=${BENCH_PORT:-5078}
DEB=${DEB:-/var/cache/strata-conformance/debian-bookworm-minbase.tar}
BUSYBOX=${BUSYBOX:-/var/cache/strata/busybox.tar}
STRATA=${STRATA:-}
DOCKER=/usr/bin/docker
FS=${BENCH_FS:-auto}
KEEP=0
say() { printf '%s\n' "$*" >&2; }
# shellcheck source=bench/fs.sh
. bench/fs.sh

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_private_dockerd
  umount "$WORK"/docker/overlay2/*/merged 2>/dev/null || true
  unmount_work
}
trap cleanup EXIT
mount_work
RES=$OUT/results.txt # lines: image tool seconds
: >"$RES"
LOG=$OUT/log
: >"$LOG"

if [ -z "$STRATA" ]; then
  go build -o "$WORK/strata" ./cmd/strata
  STRATA=$WORK/strata
fi
[ -s "$BUSYBOX" ] || scripts/mkbusybox.sh "$BUSYBOX"
[ -s "$DEB" ] || mmdebstrap --variant=minbase bookworm "$DEB" </dev/null >>"$LOG" 2>&1

# The registry.
rm -rf "$WORK/registry"
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
http:
  addr: 127.0.0.1:$PORT
EOF
docker-registry serve "$WORK/registry/config.yml" >>"$LOG" 2>&1 &
PIDS+=($!)

# A private dockerd (its own data root, socket and exec root), on either
# file system.
if [ "$FS" = host ]; then
  stop_private_dockerd
  rm -rf "$WORK/docker" "$WORK/dx"
  DOCKER="$DOCKER -H unix://$WORK/dx/docker.sock"
fi
start_private_dockerd
read -ra D <<<"$DOCKER"
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done

# The images, pushed by strata from a store of their own.
export STRATA_ROOT=$WORK/src
rm -rf "$STRATA_ROOT"
R=127.0.0.1:$PORT/bench
case ",$IMAGES," in *,debian,*)
  "$STRATA" import "$DEB" bench-debian:bookworm >>"$LOG"
  "$STRATA" push bench-debian:bookworm "$R/debian:bookworm" >>"$LOG" ;;
esac
case ",$IMAGES," in *,multi,*)
  "$STRATA" import "$BUSYBOX" bench-busybox >>"$LOG"
  mkdir -p "$WORK/ctx"
  {
    echo "FROM bench-busybox"
    for i in 1 2 3 4 5; do
      echo "RUN mkdir -p /l$i/s && head -c 52428800 /dev/urandom >/l$i/random && seq $((i * 10000000)) $((i * 10000000 + 6500000)) >/l$i/text && awk 'BEGIN{for(i=0;i<2000;i++){f=\"/l$i/s/\" i; print \"file\", i, \"of layer $i\" > f; close(f)}}'"
    done
  } >"$WORK/ctx/Dockerfile"
  "$STRATA" build -q -t bench-multi "$WORK/ctx" >>"$LOG"
  "$STRATA" push bench-multi "$R/multi:latest" >>"$LOG" ;;
esac
unset STRATA_ROOT

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
now() { date +%s.%N; }
timed() { # timed IMAGE TOOL COMMAND...
  local img=$1 tool=$2 t0 t1
  shift 2
  t0=$(now)
  "$@" >>"$LOG" 2>&1
  t1=$(now)
  echo "$img $tool $(echo "$t1 - $t0" | bc)" | tee -a "$RES" >&2
}
strata_pull() { # strata_pull IMAGE REF: pull, then the first run (which
  # needs the layers extracted); records the pull alone as strata-pull too
  local t0 t1 t2
  t0=$(now)
  STRATA_ROOT=$WORK/dst "$STRATA" pull "$2" >>"$LOG" 2>&1
  t1=$(now)
  STRATA_ROOT=$WORK/dst "$STRATA" run --rm "$2" true >>"$LOG" 2>&1
  t2=$(now)
  echo "$1 strata-pull $(echo "$t1 - $t0" | bc)" | tee -a "$RES" >&2
  echo "$1 strata $(echo "$t2 - $t0" | bc)" | tee -a "$RES" >&2
}

for i in $(seq "$RUNS"); do
  for img in ${IMAGES//,/ }; do
    ref=$R/$img
    [ "$img" = debian ] && ref=$R/debian:bookworm
    rm -rf "$WORK/dst"
    sync
    strata_pull "$img" "$ref"
    rm -rf "$WORK/dst"
    "${D[@]}" rmi -f "$ref" >>"$LOG" 2>&1 || true
    "${D[@]}" image prune -af >>"$LOG" 2>&1
    sync
    timed "$img" docker "${D[@]}" pull "$ref"
  done
done

median() { grep "^$1 $2 " "$RES" | cut -d' ' -f3 | sort -n | awk '{a[NR]=$1} END{if(NR==0){print "-"}else if(NR%2){print a[(NR+1)/2]}else{print (a[NR/2]+a[NR/2+1])/2}}'; }
echo "strata $("$STRATA" version 2>/dev/null | head -1), $(nproc) cores, load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; medians of $RUNS"
echo
echo "| image | strata pull (s) | strata pull + first run (s) | docker pull (s) | strata / docker |"
echo "| --- | --- | --- | --- | --- |"
for img in ${IMAGES//,/ }; do
  p=$(median "$img" strata-pull)
  s=$(median "$img" strata)
  d=$(median "$img" docker)
  printf '| %s | %.2f | %.2f | %.2f | %.2f |\n' "$img" "$p" "$s" "$d" "$(echo "$s / $d" | bc -l)"
done
