#!/bin/sh
# outputs.sh - two measurements of build outputs, each RUNS times (default 3):
#  1. bigtree (bench/bigtree.sh in one RUN on busybox), cold: `strata build
#     -o type=registry` (layers uploaded as the build writes them) against
#     `strata build` then `strata push`, each into an empty registry.
#  2. examples/hello's image (debian:bookworm from mmdebstrap, gcc, hello)
#     pushed with gzip and with zstd: total compressed layer bytes, and the
#     time of `strata pull` into an empty store; the zstd pull is then run.
# Needs root, busybox-static, docker-registry, mmdebstrap's tarball
# (DEBIAN_TAR), curl and python3. `bench/outputs.sh prepare` makes the store
# (bases imported, hello built) and times nothing; `bench/outputs.sh` then
# measures (it prepares first when the store is missing). Run the
# measurement under `flock /work/heavy.lock` on a shared machine. STRATA is
# the binary (default bin/strata, `make build`).
set -eu
cd "$(dirname "$0")/.."
STRATA=${STRATA:-$PWD/bin/strata}
WORK=${BENCH_WORK:-/tmp/bench-outputs}
RUNS=${RUNS:-3}
PORT=${BENCH_PORT:-5078}
REG=127.0.0.1:$PORT
DEBIAN_TAR=${DEBIAN_TAR:-/var/cache/strata-conformance/debian-bookworm-minbase.tar}

mkdir -p "$WORK/ctx"
S() { "$STRATA" --root "$WORK/store" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

regpid=
start_registry() {
  stop_registry
  rm -rf "$WORK/reg"
  mkdir -p "$WORK/reg"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
    "$WORK/reg/data" "$REG" >"$WORK/reg/config.yml"
  docker-registry serve "$WORK/reg/config.yml" >"$WORK/reg/log" 2>&1 &
  regpid=$!
  until curl -sf "http://$REG/v2/" >/dev/null; do sleep 0.1; done
}
stop_registry() {
  if [ -n "$regpid" ]; then kill "$regpid" 2>/dev/null || true; wait "$regpid" 2>/dev/null || true; regpid=; fi
}
trap stop_registry EXIT

if [ "${1:-}" = prepare ] || [ ! -f "$WORK/prepared" ]; then
  rm -rf "$WORK/store"
  bash scripts/mkbusybox.sh "$WORK/busybox.tar" >/dev/null
  S import "$WORK/busybox.tar" bench-busybox >/dev/null
  S import "$DEBIAN_TAR" debian:bookworm >/dev/null
  S build -q -t hello "$PWD/examples/hello" >/dev/null
  touch "$WORK/prepared"
  [ "${1:-}" = prepare ] && exit 0
fi
mkdir -p "$WORK/ctx/bigtree"
cp bench/bigtree.sh "$WORK/ctx/bigtree/"
printf 'FROM bench-busybox\nCOPY bigtree.sh /\nRUN sh /bigtree.sh /tree\n' >"$WORK/ctx/bigtree/Dockerfile"

echo "| run | build -o type=registry (s) | build, then push (s) | of which build (s) |"
echo "| --- | --- | --- | --- |"
i=1
while [ "$i" -le "$RUNS" ]; do
  start_registry
  t=$(now)
  S build -q --no-cache -t "$REG/bigtree:one" -o type=registry "$WORK/ctx/bigtree" >/dev/null
  one=$(since "$t")
  start_registry
  t=$(now)
  S build -q --no-cache -t "$REG/bigtree:two" "$WORK/ctx/bigtree" >/dev/null
  built=$(since "$t")
  S push -q "$REG/bigtree:two" >/dev/null
  two=$(since "$t")
  echo "| $i | $one | $two | $built |"
  i=$((i + 1))
done

start_registry
layer_bytes() {
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/hello/manifests/$1" |
    python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))'
}
echo
echo "| compression | layer bytes | push (s) | pull runs (s) |"
echo "| --- | --- | --- | --- |"
for c in gzip zstd; do
  t=$(now)
  S build -q -t "$REG/hello:$c" -o "type=registry,compression=$c" "$PWD/examples/hello" >/dev/null
  pushed=$(since "$t")
  pulls=
  i=1
  while [ "$i" -le "$RUNS" ]; do
    rm -rf "$WORK/pull"
    t=$(now)
    "$STRATA" --root "$WORK/pull" pull -q "$REG/hello:$c" >/dev/null
    pulls="$pulls $(since "$t")"
    i=$((i + 1))
  done
  echo "| $c | $(layer_bytes "$c") | $pushed |$pulls |"
done
out=$("$STRATA" --root "$WORK/pull" run --rm "$REG/hello:zstd")
echo
echo "the zstd image, pulled and run, printed: $out"
