#!/usr/bin/env bash
# bench/run.sh - strata against BuildKit (docker 20.10's, DOCKER_BUILDKIT=1)
# and buildah on the same machine, in the same run. Prints one table: for each
# case, each tool's median wall time of RUNS runs and strata's ratio to
# BuildKit, and appends it to bench/results/<date>.md too.
#
#   bench/run.sh                      # every case, RUNS=5
#   bench/run.sh --quick              # every case once (smoke test)
#   bench/run.sh --runs 3 --cases hello,parallel --tools strata,buildkit
#   RUNS=7 CASES=bigtree,push,pull bench/run.sh
#
# Cases: hello (examples/hello/Dockerfile: cold, no-op, edit of hello.c),
# multi (Dockerfile.multi, the same three; each cold build also records
# <case>-cold-runs, the sum of its RUN steps' durations as the plain progress
# output gives them, and <case>-cold-outside, the wall time minus that sum,
# for strata and BuildKit), parallel (three `RUN sleep 3`
# stages copied into a final one), bigtree (a RUN writing 20,000 small files
# and 300 MB, a third of it incompressible: layer commit), push and pull (the
# bigtree image to Debian's docker-registry on 127.0.0.1), rss (peak RSS of
# strata building, pushing and pulling a 1 GB layer; not in the default set).
# The tool strata-native is strata with --snapshotter native (its builds
# only: hello, multi, parallel, bigtree), shown in a table of its own beside
# strata's overlay snapshotter:
#   bench/run.sh --runs 5 --cases bigtree --tools strata,strata-native
#
# Cold means: every build cache of that tool cleared, the base image present
# (strata: --no-cache and `strata builder prune -af` before the build;
# docker: `docker builder prune -af` before the build; buildah: --no-cache). Each tool has its own private storage except docker,
# which is the machine's dockerd (started when it is not running); only bench-*
# images are removed from it.
#
# --fs ext4 puts WORK (every store) on a new journalled ext4 on a loop device
# and runs a private dockerd on it; the default, --fs auto, does so when
# WORK's own file system is an ext4 without a journal (see bench/fs.sh);
# --fs host never does. The log and raw times are then in WORK.out.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

RUNS=${RUNS:-5}
CASES=${CASES:-hello,multi,parallel,bigtree,push,pull}
TOOLS=${TOOLS:-strata,buildkit,buildah}
WORK=${BENCH_WORK:-/tmp/bench-work}
PORT=${BENCH_PORT:-5077}
CACHE=${STRATA_CACHE:-/var/cache/strata}
STRATA=${STRATA:-} # default: built from this checkout into WORK
FS=${BENCH_FS:-auto}
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift ;;
    --runs=*) RUNS=${1#*=} ;;
    --quick) RUNS=1 ;;
    --cases) CASES=$2; shift ;;
    --cases=*) CASES=${1#*=} ;;
    --tools) TOOLS=$2; shift ;;
    --tools=*) TOOLS=${1#*=} ;;
    --keep) KEEP=1 ;; # keep the images and the private stores
    --fs) FS=$2; shift ;;
    --fs=*) FS=${1#*=} ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
has() { case ",$2," in *",$1,"*) return 0 ;; esac; return 1; }
has_strata() { has strata "$TOOLS" || has strata-native "$TOOLS"; }

DOCKER=/usr/bin/docker # the client with BuildKit; another one on PATH may lack it
export DOCKER_BUILDKIT=1
SR=$WORK/sr          # strata's store
BR=$WORK/buildah     # buildah's storage
BUILDAH=(buildah --root "$BR/root" --runroot "$BR/run" --storage-driver overlay)
BUD=(bud --runtime runc --network host --layers)
OUT=$WORK            # the log and the raw times (beside WORK with --fs ext4)
LOG=$OUT/log
RES=$OUT/results.txt # lines: case tool seconds

say() { printf '%s\n' "$*" >&2; }

# --- the file system --------------------------------------------------------

# shellcheck source=bench/fs.sh
. bench/fs.sh

# --- setup ------------------------------------------------------------------

setup() {
  # Each tool's packages only when it is asked for: buildah (with runc, and
  # docker.io for its base images) is the bench's own, not a test dependency.
  local pkgs=(busybox-static mmdebstrap time) missing=()
  { has buildkit "$TOOLS" || has buildah "$TOOLS"; } && pkgs+=(docker.io)
  has buildah "$TOOLS" && pkgs+=(buildah runc)
  { has push "$CASES" || has pull "$CASES" || has rss "$CASES"; } && pkgs+=(docker-registry)
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  mkdir -p "$WORK" "$CACHE" "$SR" "$BR"
  : >"$LOG"
  : >"$RES"
  : >"$OUT/failures.txt"
  if [ -z "$STRATA" ]; then
    say "building strata"
    go build -o "$WORK/strata" ./cmd/strata
    STRATA=$WORK/strata
  fi
  export STRATA_ROOT=$SR
  if has buildkit "$TOOLS" || has buildah "$TOOLS"; then
    start_dockerd
  fi

  # Base images: busybox (scripts/mkbusybox.sh) and debian:bookworm
  # (mmdebstrap, cached as scripts/demo.sh does), named bench-* everywhere.
  [ -s "$CACHE/busybox.tar" ] || scripts/mkbusybox.sh "$CACHE/busybox.tar"
  DEB=$CACHE/debian-bookworm-minbase.tar
  [ -s "$DEB" ] || [ ! -s /var/cache/strata-conformance/debian-bookworm-minbase.tar ] ||
    DEB=/var/cache/strata-conformance/debian-bookworm-minbase.tar
  if [ ! -s "$DEB" ] && { has hello "$CASES" || has multi "$CASES"; }; then
    say "making debian:bookworm with mmdebstrap"
    mmdebstrap --variant=minbase --format=tar bookworm "$DEB.tmp" </dev/null >"$CACHE/mmdebstrap.log" 2>&1
    mv "$DEB.tmp" "$DEB"
  fi
  import bench-busybox:latest "$CACHE/busybox.tar"
  if has hello "$CASES" || has multi "$CASES"; then
    import bench-debian:bookworm "$DEB"
  fi

  # Build contexts: copies, so that the edit case never touches the repo.
  rm -rf "$WORK/ctx"
  mkdir -p "$WORK/ctx"
  cp -r examples/hello "$WORK/ctx/hello"
  sed -i 's/^FROM debian:bookworm/FROM bench-debian:bookworm/' "$WORK/ctx/hello/Dockerfile" "$WORK/ctx/hello/Dockerfile.multi"
  mkdir -p "$WORK/ctx/parallel" "$WORK/ctx/bigtree" "$WORK/ctx/rss"
  cat >"$WORK/ctx/parallel/Dockerfile" <<'EOF'
FROM bench-busybox AS a
RUN sleep 3 && echo a >/a
FROM bench-busybox AS b
RUN sleep 3 && echo b >/b
FROM bench-busybox AS c
RUN sleep 3 && echo c >/c
FROM bench-busybox
COPY --from=a /a /a
COPY --from=b /b /b
COPY --from=c /c /c
EOF
  cp bench/bigtree.sh "$WORK/ctx/bigtree/bigtree.sh"
  # busybox's applets, for running bigtree.sh on the host as in the image.
  rm -rf "$WORK/bbin"
  mkdir -p "$WORK/bbin"
  for a in sh head od awk mkdir; do ln -s /bin/busybox "$WORK/bbin/$a"; done
  cat >"$WORK/ctx/bigtree/Dockerfile" <<'EOF'
FROM bench-busybox
COPY bigtree.sh /
RUN sh /bigtree.sh /tree && echo "bigtree-end $(cut -d' ' -f1 /proc/uptime)"
EOF
  cat >"$WORK/ctx/rss/Dockerfile" <<'EOF'
FROM bench-busybox
RUN head -c 1073741824 /dev/urandom >/big
EOF
}

# import NAME TARBALL makes the root filesystem tarball an image NAME in every
# tool: strata import, docker import, and buildah from docker's copy.
import() {
  local name=$1 tar=$2
  if has_strata; then
    "$STRATA" inspect "$name" >/dev/null 2>&1 || "$STRATA" import "$tar" "$name" >>"$LOG"
  fi
  if has buildkit "$TOOLS" || has buildah "$TOOLS"; then
    $DOCKER image inspect "$name" >/dev/null 2>&1 || $DOCKER import "$tar" "$name" >>"$LOG"
  fi
  if has buildah "$TOOLS"; then
    if ! "${BUILDAH[@]}" inspect --type image "$name" >/dev/null 2>&1; then
      $DOCKER save -o "$WORK/base.tar" "$name"
      "${BUILDAH[@]}" pull -q "docker-archive:$WORK/base.tar" >>"$LOG"
      "${BUILDAH[@]}" tag "$("${BUILDAH[@]}" images -q --filter reference="$name" | head -1)" "$name" 2>>"$LOG" || true
      rm -f "$WORK/base.tar"
    fi
  fi
}

# --- timing -----------------------------------------------------------------

now() { date +%s.%N; }

# timed CASE TOOL CMD... runs CMD with its output in the log and records its
# wall time.
timed() {
  local c=$1 tool=$2
  shift 2
  echo "== $c $tool: $*" >>"$LOG"
  local t0 t1 ok=1
  # Every run starts with nothing of an earlier run left to write back, so
  # that no tool pays for the one measured before it.
  sync
  t0=$(now)
  "$@" >"$WORK/last.out" 2>&1 || ok=0
  t1=$(now)
  cut -d' ' -f1 /proc/uptime >"$WORK/last.end"
  cat "$WORK/last.out" >>"$LOG"
  if [ $ok = 0 ]; then
    say "FAILED ($c, $tool): $*  (see $LOG)"
    tail -15 "$WORK/last.out" >&2
    echo "$c $tool FAILED" >>"$OUT/failures.txt"
    return 1
  fi
  record "$c" "$tool" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}

# outside CASE TOOL records, as CASE-runs, the time the build just timed
# spent in its RUN commands, and as CASE-outside the wall time minus that:
# the time spent outside the RUN commands. BuildKit's RUN steps end when the
# command exits (it diffs the layers later, in "exporting layers"), so its
# figure is the sum of their "#N DONE 12.3s" lines; strata's RUN steps end
# after the layer's tar and hash, so its figure is the RUN part of its
# "time spent" line, the commands alone. buildah prints no step durations.
outside() {
  local c=$1 tool=$2 runs wall
  case $tool in strata|strata-native|buildkit) ;; *) return 0 ;; esac
  runs=$(awk '
    /^#[0-9]+ \[.*\] RUN / { run[$1] = 1 }
    /^#[0-9]+ DONE [0-9.]+s$/ && ($1 in run) { t = $3; sub(/s$/, "", t); sum += t }
    /^time spent \(summed over steps\):/ && match($0, /RUN [0-9.]+s/) { own = substr($0, RSTART + 4, RLENGTH - 5) }
    END { printf "%.3f", own != "" ? own : sum }' "$WORK/last.out")
  wall=$(tail -1 "$RES" | cut -d' ' -f3)
  record "$c-runs" "$tool" "$runs"
  record "$c-outside" "$tool" "$(awk -v w="$wall" -v r="$runs" 'BEGIN { printf "%.3f", w - r }')"
}

record() {
  echo "$1 $2 $3" >>"$RES"
  say "  $1 $2 ${3}s"
}

# --- the tools --------------------------------------------------------------

# build TOOL MODE TAG CONTEXT [DOCKERFILE]; MODE is cold or warm.
build() {
  local tool=$1 mode=$2 tag=$3 ctx=$4 file=${5:-Dockerfile}
  case $tool in
    strata)
      local nc=()
      [ "$mode" = cold ] && nc=(--no-cache)
      "$STRATA" build "${nc[@]}" --snapshotter overlay --progress plain -t "$tag" -f "$ctx/$file" "$ctx" ;;
    strata-native)
      local nc=()
      [ "$mode" = cold ] && nc=(--no-cache)
      "$STRATA" build "${nc[@]}" --snapshotter native --progress plain -t "$tag" -f "$ctx/$file" "$ctx" ;;
    buildkit)
      $DOCKER build --network host --progress plain -t "$tag" -f "$ctx/$file" "$ctx" ;;
    buildah)
      local nc=()
      [ "$mode" = cold ] && nc=(--no-cache)
      "${BUILDAH[@]}" "${BUD[@]}" "${nc[@]}" -t "$tag" -f "$ctx/$file" "$ctx" ;;
  esac
}

# uncache TOOL clears, untimed, the build cache of TOOL's earlier cold
# builds. BuildKit needs it: `docker build` has no --no-cache here. strata's
# --no-cache bypasses its cache, but the prune is done for it too, so that
# both tools start each cold build from the same state: without the layers
# of the run before, whose memory the prune frees just before the build.
# On this bench's machine (a VM whose free memory goes back to the host)
# that decides what new pages cost: strata's cold hello spent 0.54-1.00 s
# outside its RUN commands with a prune before each build, 0.87-1.90 s with
# the store growing from build to build (results/2026-12-06.md).
uncache() {
  case $1 in
    buildkit) $DOCKER builder prune -af >>"$LOG" 2>&1 ;;
    strata | strata-native) "$STRATA" builder prune -af >>"$LOG" 2>&1 ;;
  esac
}

tools() { tr , ' ' <<<"$TOOLS"; }
# rotated N WORD... prints the words rotated left by N-1, wrapping: run N of
# a case starts with the Nth tool, so that no tool always runs first or always
# right after another (on this kind of machine the state one run leaves, the
# page cache and what the host did with the guest's freed memory, changes
# the next run's speed by as much as the tools differ).
rotated() {
  local n=$1
  shift
  local a=("$@") k=${#a[@]} j
  for j in $(seq 0 $((k - 1))); do
    printf '%s\n' "${a[$(( (j + n - 1) % k ))]}"
  done
}
# registry_tools are the tools of push and pull, where the snapshotter plays
# no part: strata-native is left out.
registry_tools() { tools | tr ' ' '\n' | grep -vx strata-native | tr '\n' ' '; }

# --- cases ------------------------------------------------------------------

# case_hello NAME DOCKERFILE: cold builds, no-op rebuilds, rebuilds after an
# edit of hello.c.
case_hello() {
  local name=$1 file=$2 ctx=$WORK/ctx/hello tool i
  say "$name: cold"
  for i in $(seq "$RUNS"); do
    for tool in $(rotated "$i" $(tools)); do
      uncache "$tool"
      timed "$name-cold" "$tool" build "$tool" cold "bench-$name:$tool" "$ctx" "$file" || continue
      outside "$name-cold" "$tool"
    done
  done
  say "$name: no-op rebuild"
  for i in $(seq "$RUNS"); do
    for tool in $(rotated "$i" $(tools)); do
      timed "$name-noop" "$tool" build "$tool" warm "bench-$name:$tool" "$ctx" "$file" || true
    done
  done
  say "$name: rebuild after editing hello.c"
  for i in $(seq "$RUNS"); do
    printf '/* edit %s %s */\n' "$i" "$(now)" >>"$ctx/hello.c"
    for tool in $(rotated "$i" $(tools)); do
      timed "$name-edit" "$tool" build "$tool" warm "bench-$name:$tool" "$ctx" "$file" || true
    done
  done
}

case_parallel() {
  local tool i
  say "parallel: three independent 3 s stages"
  for i in $(seq "$RUNS"); do
    for tool in $(rotated "$i" $(tools)); do
      uncache "$tool"
      if [ "$tool" = buildah ]; then
        timed parallel buildah "${BUILDAH[@]}" "${BUD[@]}" --no-cache --jobs 3 -q -t bench-parallel:buildah "$WORK/ctx/parallel" || true
      else
        timed parallel "$tool" build "$tool" cold "bench-parallel:$tool" "$WORK/ctx/parallel" || true
      fi
    done
  done
}

# case_bigtree times the cold build, and apart the time from the end of the
# RUN (it prints the machine's uptime as it ends) to the end of the build:
# the layer commit and the image export, what differs between the tools.
case_bigtree() {
  local tool i mark
  say "bigtree: 20,000 files, 300 MB (a third incompressible) in one RUN"
  # Every tool removes its own tree of the run before just before its
  # build, untimed, as strata's prune does: BuildKit's prune alone removes
  # no layer (the image keeps it), and on this machine a tree removed just
  # before makes the next one's pages cheap (results/2026-12-06-inodes.md).
  for i in $(seq "$RUNS"); do
    # The RUN alone, on the host, for reference, takes its turn with the
    # tools.
    for tool in $(rotated "$i" host $(tools)); do
      case $tool in
        host)
          rm -rf "$WORK/hosttree"
          timed bigtree-run host env PATH="$WORK/bbin" /bin/busybox sh bench/bigtree.sh "$WORK/hosttree" || true
          continue ;;
        strata | strata-native) "$STRATA" rmi "bench-bigtree:$tool" >>"$LOG" 2>&1 || true ;;
        buildkit) $DOCKER rmi "bench-bigtree:$tool" >>"$LOG" 2>&1 || true ;;
      esac
      uncache "$tool"
      timed bigtree "$tool" build "$tool" cold "bench-bigtree:$tool" "$WORK/ctx/bigtree" || continue
      outside bigtree "$tool"
      mark=$(grep -o 'bigtree-end [0-9.]*' "$WORK/last.out" | tail -1 | cut -d' ' -f2)
      if [ -n "$mark" ]; then
        record bigtree-commit "$tool" "$(awk -v a="$mark" -v b="$(cat "$WORK/last.end")" 'BEGIN { printf "%.3f", b - a }')"
      else
        say "  bigtree $tool: no bigtree-end line in the build output"
      fi
    done
  done
  rm -rf "$WORK/hosttree"
}

# registry starts docker-registry on 127.0.0.1:PORT with empty storage.
registry() {
  stop_registry
  rm -rf "$WORK/registry"
  mkdir -p "$WORK/registry/data"
  cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/registry/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$PORT}
EOF
  docker-registry serve "$WORK/registry/config.yml" >>"$WORK/registry.log" 2>&1 &
  echo $! >"$WORK/registry.pid"
  for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  say "docker-registry did not start; see $WORK/registry.log"
  return 1
}

stop_registry() {
  if [ -s "$WORK/registry.pid" ]; then
    kill "$(cat "$WORK/registry.pid")" 2>/dev/null || true
    wait "$(cat "$WORK/registry.pid")" 2>/dev/null || true
    rm -f "$WORK/registry.pid"
  fi
}

# ensure_bigtree TOOL builds the bigtree image when the tool lacks it.
ensure_bigtree() {
  case $1 in
    strata) "$STRATA" inspect bench-bigtree:strata >/dev/null 2>&1 && return 0 ;;
    buildkit) $DOCKER image inspect bench-bigtree:buildkit >/dev/null 2>&1 && return 0 ;;
    buildah) "${BUILDAH[@]}" inspect --type image bench-bigtree:buildah >/dev/null 2>&1 && return 0 ;;
  esac
  build "$1" warm "bench-bigtree:$1" "$WORK/ctx/bigtree" >>"$LOG" 2>&1
}

push() {
  local tool=$1 dest=127.0.0.1:$PORT/bench/bigtree-$1
  case $tool in
    strata) "$STRATA" push bench-bigtree:strata "$dest" ;;
    buildkit) $DOCKER tag bench-bigtree:buildkit "$dest" && $DOCKER push "$dest" ;;
    buildah) "${BUILDAH[@]}" push --tls-verify=false bench-bigtree:buildah "docker://$dest" ;;
  esac
}

# pull TOOL pulls into a store without the image's layers, extracted (strata:
# an empty store; docker and buildah: their own stores with the bigtree image
# removed, the busybox base layer staying).
pull() {
  local tool=$1 src=127.0.0.1:$PORT/bench/bigtree-$1
  case $tool in
    strata) # strata pull extracts the layers while they download, as docker
      # and buildah do; the first run, counted too, then finds them ready.
      STRATA_ROOT=$WORK/sr-pull "$STRATA" pull "$src" &&
        STRATA_ROOT=$WORK/sr-pull "$STRATA" run --rm "$src" true ;;
    buildkit) $DOCKER pull "$src" ;;
    buildah) "${BUILDAH[@]}" pull --tls-verify=false "docker://$src" ;;
  esac
}

unpull() {
  case $1 in
    strata) rm -rf "$WORK/sr-pull" ;;
    buildkit) # the build cache holds the layers too
      $DOCKER rmi -f "127.0.0.1:$PORT/bench/bigtree-buildkit" bench-bigtree:buildkit >>"$LOG" 2>&1 || true
      $DOCKER builder prune -af >>"$LOG" 2>&1 ;;
    buildah) "${BUILDAH[@]}" rmi -f "127.0.0.1:$PORT/bench/bigtree-buildah" bench-bigtree:buildah >>"$LOG" 2>&1 || true ;;
  esac
}

case_pushpull() {
  local tool i
  say "push and pull of the bigtree image (127.0.0.1:$PORT)"
  for i in $(seq "$RUNS"); do
    # One empty registry per run; each tool pushes to a repository of its
    # own, so no push finds a blob that another tool pushed.
    registry
    for tool in $(rotated "$i" $(registry_tools)); do
      ensure_bigtree "$tool"
      if has push "$CASES"; then
        timed push "$tool" push "$tool" || true
      else
        push "$tool" >>"$LOG" 2>&1
      fi
    done
    has pull "$CASES" || continue
    for tool in $(registry_tools); do
      unpull "$tool"
    done
    for tool in $(rotated "$i" $(registry_tools)); do
      timed pull "$tool" pull "$tool" || true
      # docker and buildah lost the built image: name the pulled one so.
      case $tool in
        buildkit) $DOCKER tag "127.0.0.1:$PORT/bench/bigtree-buildkit" bench-bigtree:buildkit ;;
        buildah) "${BUILDAH[@]}" tag "127.0.0.1:$PORT/bench/bigtree-buildah" bench-bigtree:buildah ;;
      esac
    done
  done
  stop_registry
}

# case_rss: peak RSS (GNU time's "Maximum resident set size") of strata
# building an image whose RUN writes 1 GB, pushing it and pulling it into an
# empty store.
case_rss() {
  say "rss: 1 GB layer, strata build, push, pull"
  local T=(/usr/bin/time -v)
  rss() { awk -v c="$1" '/Maximum resident set size/ { printf "rss-%s strata %.1f\n", c, $NF / 1024 }' "$WORK/time-$1.txt" >>"$RES"; }
  "${T[@]}" -o "$WORK/time-build.txt" "$STRATA" build --no-cache --progress plain -t bench-rss "$WORK/ctx/rss" >>"$LOG" 2>&1
  rss build
  registry
  "${T[@]}" -o "$WORK/time-push.txt" "$STRATA" push bench-rss "127.0.0.1:$PORT/bench/rss" >>"$LOG" 2>&1
  rss push
  rm -rf "$WORK/sr-rss"
  "${T[@]}" -o "$WORK/time-pull.txt" env STRATA_ROOT="$WORK/sr-rss" "$STRATA" pull "127.0.0.1:$PORT/bench/rss" >>"$LOG" 2>&1
  rss pull
  "${T[@]}" -o "$WORK/time-extract.txt" env STRATA_ROOT="$WORK/sr-rss" "$STRATA" run --rm "127.0.0.1:$PORT/bench/rss" true >>"$LOG" 2>&1
  rss extract
  rm -rf "$WORK/sr-rss"
  "$STRATA" rmi bench-rss >>"$LOG" 2>&1 || true
  stop_registry
}

# --- the table --------------------------------------------------------------

# median CASE TOOL prints the median of the recorded times, or "-".
median() {
  local v
  v=$(awk -v c="$1" -v t="$2" '$1 == c && $2 == t { print $3 }' "$RES" | sort -g)
  [ -n "$v" ] || { echo -; return; }
  awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.2f", a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }' <<<"$v"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.2f", a - b }'; }

table() {
  local target
  echo "| case | strata s | buildkit s | buildah s | strata ÷ buildkit | target |"
  echo "| --- | ---: | ---: | ---: | ---: | --- |"
  row() { # CASE TARGET [strata buildkit buildah]
    local c=$1 t=$2 s k h
    s=${3:-$(median "$c" strata)}
    k=${4:-$(median "$c" buildkit)}
    h=${5:-$(median "$c" buildah)}
    [ "$s$k$h" = --- ] && return
    echo "| $c | $s | $k | $h | $(ratio "$s" "$k") | $t |"
  }
  for n in hello multi; do
    row "$n-cold" "≤ 0.90"
    row "$n-cold-runs" "(the sum of its RUN steps)"
    row "$n-cold-outside" "≤ 0.50 (wall − RUN steps)"
    row "$n-noop" "≤ 0.50"
    row "$n-edit" "≤ 0.70"
  done
  row parallel "wall ≤ 3.3 s + overhead"
  row bigtree "≤ 0.65"
  row bigtree-runs "RUN ≤ 1.0"
  row bigtree-outside "(wall − RUN)"
  local run
  run=$(median bigtree-run host)
  [ "$run" = - ] || echo "| bigtree-run (the RUN alone, on the host) | $run | $run | $run | | |"
  row bigtree-commit "≤ 0.70"
  row push "≤ 0.80"
  row pull "≤ 0.60"
  snapshotter_table
  local b
  b=$(median rss-build strata)
  if [ "$b" != - ]; then
    echo
    echo "| peak RSS, 1 GB layer (MB, one run) | strata | target |"
    echo "| --- | ---: | --- |"
    echo "| build (RUN head -c 1G /dev/urandom) | $b | < 200 |"
    echo "| push to docker-registry | $(median rss-push strata) | < 200 |"
    echo "| pull into an empty store | $(median rss-pull strata) | < 200 |"
    echo "| first run of the pulled image (extracts the layer) | $(median rss-extract strata) | < 200 |"
  fi
}

# pairs CASE... prints, for each case both strata and BuildKit ran, their
# times run by run and in how many runs strata's was the lower: on a noisy
# machine the medians alone do not tell a steady gap from a few slow runs.
pairs() {
  local c line
  for c in "$@"; do
    line=$(awk -v c="$c" '
      $1 == c && $2 == "strata" { s[++ns] = $3 }
      $1 == c && $2 == "buildkit" { k[++nk] = $3 }
      END {
        n = ns < nk ? ns : nk
        if (n == 0) exit
        for (i = 1; i <= n; i++) {
          ss = ss (i > 1 ? ", " : "") s[i]; ks = ks (i > 1 ? ", " : "") k[i]
          if (s[i] + 0 < k[i] + 0) w++
        }
        printf "- %s, run by run: strata %s; BuildKit %s; strata lower in %d of %d runs\n", c, ss, ks, w, n
      }' "$RES")
    [ -z "$line" ] || echo "$line"
  done
}

# snapshotter_table compares strata's snapshotters when strata-native ran.
snapshotter_table() {
  has strata-native "$TOOLS" || return 0
  echo
  echo "| case | strata overlay s | strata native s | native ÷ overlay |"
  echo "| --- | ---: | ---: | ---: |"
  local c o n
  for c in hello-cold hello-noop hello-edit multi-cold multi-noop multi-edit parallel bigtree bigtree-commit; do
    o=$(median "$c" strata)
    n=$(median "$c" strata-native)
    [ "$n" = - ] && continue
    echo "| $c | $o | $n | $(ratio "$n" "$o") |"
  done
}

cleanup() {
  stop_registry
  [ "$KEEP" = 1 ] && return
  if has buildkit "$TOOLS" || has buildah "$TOOLS"; then
    $DOCKER images --format '{{.Repository}}:{{.Tag}}' | grep -E '^(bench-|127\.0\.0\.1:'"$PORT"'/bench/)' |
      grep -v -E '^bench-(busybox|debian):' | xargs -r $DOCKER rmi -f >>"$LOG" 2>&1 || true
  fi
  # A full run leaves about 20 GB in the private stores: drop them.
  if [ -d "$BR/root" ]; then
    "${BUILDAH[@]}" rm -a >>"$LOG" 2>&1 || true
    "${BUILDAH[@]}" rmi -a -f >>"$LOG" 2>&1 || true
  fi
  rm -rf "$SR" "$BR" "$WORK/registry" "$WORK/sr-pull" "$WORK/sr-rss" || true
  unmount_work
}

# versions docker|buildah prints the version of what ran, or why there is none.
versions() {
  local v
  case $1 in
    docker) # the server's: the client alone prints an empty one and fails
      v=$($DOCKER version --format '{{.Server.Version}}' 2>/dev/null) && [ -n "$v" ] || v='? (dockerd not running)'
      echo "$v" ;;
    buildah)
      if has buildah "$TOOLS"; then
        echo "$(buildah --version 2>/dev/null || echo 'buildah ?') (storage driver overlay, runtime runc, --layers)"
      else
        echo "buildah not run"
      fi ;;
  esac
}

main() {
  trap cleanup EXIT
  mount_work
  LOG=$OUT/log
  RES=$OUT/results.txt
  setup
  local load_start
  load_start=$(cut -d' ' -f1-3 /proc/loadavg)
  say "runs: $RUNS; cases: $CASES; tools: $TOOLS; log: $LOG"
  has hello "$CASES" && case_hello hello Dockerfile
  has multi "$CASES" && case_hello multi Dockerfile.multi
  has parallel "$CASES" && case_parallel
  has bigtree "$CASES" && case_bigtree
  { has push "$CASES" || has pull "$CASES"; } && case_pushpull
  has rss "$CASES" && case_rss
  local out
  mkdir -p bench/results
  out=bench/results/$(date +%Y-%m-%d).md
  {
    echo "# strata benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Median wall time of $RUNS run(s) per tool; $(nproc) cores; strata $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "($("$STRATA" version 2>/dev/null | head -1)), docker $(versions docker),"
    echo "$(versions buildah). Command: bench/run.sh --runs $RUNS --cases $CASES --tools $TOOLS"
    echo "Load averages (1, 5, 15 min): $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo "Stores on: $(fs_line)."
    echo
    table
    echo
    pairs hello-cold hello-cold-outside multi-cold multi-cold-outside bigtree bigtree-runs bigtree-commit
  } >"$OUT/table.md"
  if [ -s "$OUT/failures.txt" ]; then
    { echo; echo "Failed runs (left out of the medians):"; sort "$OUT/failures.txt" | uniq -c | sed 's/^/    /'; } >>"$OUT/table.md"
  fi
  { [ ! -s "$out" ] || echo; cat "$OUT/table.md"; } >>"$out"
  cat "$OUT/table.md"
  say "appended to $out; raw times in $RES"
}

main
