#!/usr/bin/env bash
# bench/scale.sh - how the costs of strata, BuildKit and buildah grow with the
# size of the work, in the same run: for each case and size, each tool's
# median wall time of RUNS runs; then, per case, a table, the least-squares
# slope (seconds per unit of size) of each tool, and an SVG chart
# (bench/svgplot.awk) of time against size with every tool on it. Writes bench/results/scale-<date>.md
# and bench/results/scale-<date>-<case>.svg.
#
#   bench/scale.sh                                   # every case, RUNS=5
#   bench/scale.sh --runs 3 --cases files,layers --tools strata
#   FILES_SIZES=1000,10000 bench/scale.sh --cases files
#
# Cases (sizes: *_SIZES, comma-separated):
#   files   a context of N files (FILES_SIZES=1000,10000,100000) copied by one
#           COPY: files-noop is the rebuild with nothing changed, files-edit
#           the rebuild after one file changed
#   instrs  a Dockerfile of N instructions (INSTRS_SIZES=10,100,500), one in
#           five a RUN, the others ENV, LABEL, ARG and EXPOSE: cold build
#   stages  N independent one-RUN stages (STAGES_SIZES=1,10,50) each copied
#           into the final stage: cold build
#   layers  an image of N layers (LAYERS_SIZES=10,60,120), one RUN each: cold
#           build (BuildKit's overlay snapshotter fails past about 125)
#   big     one RUN writing N GB of /dev/urandom in 1 GB files (BIG_SIZES=1,5):
#           cold build, each run in an empty strata store (and BuildKit's cache
#           pruned, the image removed) so that the disk holds one copy; also
#           records strata's peak RSS (GNU time's maximum resident set size of
#           the build process and its children: `big-rss`, MB)
# Cold: strata --no-cache, docker builder prune -af first, buildah --no-cache.
# strata uses a private store ($WORK/sr), buildah a private storage
# ($WORK/buildah: overlay, runc, --layers); BuildKit is the machine's dockerd
# (Debian docker.io, started as bench/run.sh starts it), from which only
# bench-scale images are removed. The prune is not timed. Wrap runs in
# `flock /work/heavy.lock` on a shared machine, one case per run, and merge:
#
#   flock /work/heavy.lock bench/scale.sh --runs 3 --cases files --append
#   flock /work/heavy.lock bench/scale.sh --runs 3 --cases layers --append
#   bench/scale.sh --report-only --out bench/results/2026-12-05-scale.md
#
# --append keeps the times of earlier runs (default: start afresh);
# --report-only writes the report from them without building; --out names the
# report (its SVGs are written beside it, <name>-<case>.svg). --fs and --keep
# are bench/run.sh's (bench/fs.sh): on an ext4 without a journal the stores
# and a private dockerd go on a journalled ext4 on a loop device, and the
# times and logs to $WORK.out.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
CASES=${CASES:-files,instrs,stages,layers,big}
TOOLS=${TOOLS:-strata,buildkit,buildah}
WORK=${BENCH_WORK:-/tmp/bench-scale}
STRATA=${STRATA:-}
FILES_SIZES=${FILES_SIZES:-1000,10000,100000}
INSTRS_SIZES=${INSTRS_SIZES:-10,100,500}
STAGES_SIZES=${STAGES_SIZES:-1,10,50}
LAYERS_SIZES=${LAYERS_SIZES:-10,60,120}
BIG_SIZES=${BIG_SIZES:-1,5}
APPEND=0
REPORT_ONLY=0
REPORT=
FS=${BENCH_FS:-auto}
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift ;;
    --cases) CASES=$2; shift ;;
    --tools) TOOLS=$2; shift ;;
    --append) APPEND=1 ;;
    --report-only) REPORT_ONLY=1 ;;
    --out) REPORT=$2; shift ;;
    --fs) FS=$2; shift ;;
    --keep) KEEP=1 ;; # keep the loop file system and the private dockerd
    -h|--help) sed -n '2,44p' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
has() { case ",$2," in *",$1,"*) return 0 ;; esac; return 1; }
say() { printf '%s\n' "$*" >&2; }
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1
# shellcheck source=bench/fs.sh
. bench/fs.sh
# The raw times and logs, in OUT (WORK, or beside it with --fs ext4: see
# bench/fs.sh).
paths() {
  RES=$OUT/results.txt # lines: case tool size seconds
  LOG=$OUT/log.txt
  LOAD=$OUT/load.txt  # lines: case start|end uptime's load averages
  RSS=$OUT/rss.txt    # lines: case tool size MB
}
BR=$WORK/buildah     # buildah's private storage
BUILDAH=(buildah --root "$BR/root" --runroot "$BR/run" --storage-driver overlay)

setup() {
  mount_work
  paths
  if [ "$APPEND" = 0 ]; then
    : >"$RES"
    : >"$LOAD"
    : >"$RSS"
    : >"$OUT/failures.txt"
  fi
  touch "$RES" "$LOAD" "$RSS" "$OUT/failures.txt"
  : >"$LOG"
  if [ -z "$STRATA" ]; then
    go build -o "$OUT/strata" ./cmd/strata
    STRATA=$OUT/strata
  fi
  export STRATA_ROOT=$WORK/sr
  if has buildkit "$TOOLS" || has buildah "$TOOLS"; then
    start_dockerd
  fi
  local bb=$WORK/busybox.tar
  [ -s "$bb" ] || scripts/mkbusybox.sh "$bb"
  "$STRATA" inspect bench-scale-busybox >/dev/null 2>&1 || "$STRATA" import "$bb" bench-scale-busybox >>"$LOG"
  if has buildkit "$TOOLS" || has buildah "$TOOLS"; then
    $DOCKER image inspect bench-scale-busybox >/dev/null 2>&1 || $DOCKER import "$bb" bench-scale-busybox >>"$LOG"
  fi
  if has buildah "$TOOLS" && ! "${BUILDAH[@]}" inspect --type image bench-scale-busybox >/dev/null 2>&1; then
    $DOCKER save -o "$WORK/base.tar" bench-scale-busybox
    "${BUILDAH[@]}" pull -q "docker-archive:$WORK/base.tar" >>"$LOG"
    "${BUILDAH[@]}" tag "$("${BUILDAH[@]}" images -q --filter reference=bench-scale-busybox | head -1)" bench-scale-busybox 2>>"$LOG" || true
    rm -f "$WORK/base.tar"
  fi
}

# timed CASE TOOL SIZE CMD... records CMD's wall time.
timed() {
  local c=$1 tool=$2 n=$3 t0 t1
  shift 3
  echo "== $c $tool $n: $*" >>"$LOG"
  sync
  t0=$(date +%s.%N)
  if ! "$@" >>"$LOG" 2>&1; then
    say "FAILED ($c $tool $n): see $LOG"
    echo "$c $tool $n FAILED" >>"$OUT/failures.txt"
    return 1
  fi
  t1=$(date +%s.%N)
  awk -v c="$c" -v t="$tool" -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s %s %s %.3f\n", c, t, n, b - a }' | tee -a "$RES" >&2
}

build() { # build TOOL cold|warm CTX
  case $1 in
    strata)
      local nc=()
      [ "$2" = cold ] && nc=(--no-cache)
      "$STRATA" build "${nc[@]}" --progress plain -t bench-scale:strata "$3" ;;
    buildkit)
      $DOCKER build --network host --progress plain -t bench-scale:buildkit "$3" ;;
    buildah)
      local nc=()
      [ "$2" = cold ] && nc=(--no-cache)
      "${BUILDAH[@]}" bud --runtime runc --network host --layers "${nc[@]}" -t bench-scale:buildah "$3" ;;
  esac
}

# uncache TOOL clears, before a timed cold build and untimed, the build cache
# that `build TOOL cold` does not bypass (BuildKit's: no --no-cache there, as
# the cold builds of bench/run.sh).
uncache() {
  case $1 in
    buildkit) $DOCKER builder prune -af >>"$LOG" 2>&1 ;;
  esac
}

# load CASE start|end records the load averages.
load() { echo "$1 $2 $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOAD"; }

# mkctx DIR: an empty context dir.
mkctx() { rm -rf "$1"; mkdir -p "$1"; }

case_files() {
  local n tool i ctx
  for n in ${FILES_SIZES//,/ }; do
    ctx=$WORK/ctx-files-$n
    mkctx "$ctx"
    mkdir -p "$ctx/src"
    awk -v n="$n" -v d="$ctx/src" 'BEGIN { for (i = 0; i < n; i++) { f = d "/d" int(i / 1000); if (i % 1000 == 0) system("mkdir -p " f); print "file " i > (f "/f" i); close(f "/f" i) } }'
    printf 'FROM bench-scale-busybox\nCOPY src /src\n' >"$ctx/Dockerfile"
    for tool in ${TOOLS//,/ }; do
      uncache "$tool"
      build "$tool" cold "$ctx" >>"$LOG" 2>&1
      for i in $(seq "$RUNS"); do timed files-noop "$tool" "$n" build "$tool" warm "$ctx" || true; done
      for i in $(seq "$RUNS"); do
        echo "edit $i $(date +%s.%N)" >"$ctx/src/d0/f0"
        timed files-edit "$tool" "$n" build "$tool" warm "$ctx" || true
      done
    done
  done
}

# case_df CASE SIZES GEN: cold builds of the Dockerfile GEN N writes.
case_df() {
  local c=$1 sizes=$2 gen=$3 n tool i ctx
  for n in ${sizes//,/ }; do
    ctx=$WORK/ctx-$c-$n
    mkctx "$ctx"
    "$gen" "$n" >"$ctx/Dockerfile"
    for i in $(seq "$RUNS"); do
      for tool in ${TOOLS//,/ }; do
        uncache "$tool"
        timed "$c" "$tool" "$n" build "$tool" cold "$ctx" || true
      done
    done
  done
}

gen_instrs() {
  echo "FROM bench-scale-busybox"
  local i
  for i in $(seq 2 "$1"); do
    case $((i % 5)) in
      0) echo "RUN echo $i >/i$i" ;;
      1) echo "ENV E$i=$i" ;;
      2) echo "LABEL l$i=$i" ;;
      3) echo "ARG A$i=$i" ;;
      4) echo "EXPOSE $((1000 + i))" ;;
    esac
  done
}

gen_stages() {
  local i
  for i in $(seq "$1"); do printf 'FROM bench-scale-busybox AS s%d\nRUN echo %d >/s%d\n' "$i" "$i" "$i"; done
  echo "FROM bench-scale-busybox"
  for i in $(seq "$1"); do echo "COPY --from=s$i /s$i /s$i"; done
}

gen_layers() {
  echo "FROM bench-scale-busybox"
  local i
  for i in $(seq "$1"); do echo "RUN echo $i >/l$i"; done
}

# case_big: cold builds of one RUN writing N GB of incompressible data, with
# strata's peak RSS. Each strata run gets an empty store (the busybox base
# imported untimed) and BuildKit's cache and image are dropped after each run,
# so that at most one copy of the layer is on disk per tool.
case_big() {
  local n tool i ctx
  for n in ${BIG_SIZES//,/ }; do
    ctx=$WORK/ctx-big-$n
    mkctx "$ctx"
    printf 'FROM bench-scale-busybox\nRUN for i in $(seq %d); do head -c 1073741824 /dev/urandom >/big$i || exit 1; done\n' "$n" >"$ctx/Dockerfile"
    for i in $(seq "$RUNS"); do
      for tool in ${TOOLS//,/ }; do
        case $tool in
          strata)
            rm -rf "$WORK/sr-big"
            STRATA_ROOT=$WORK/sr-big "$STRATA" import "$WORK/busybox.tar" bench-scale-busybox >>"$LOG"
            if timed big strata "$n" env STRATA_ROOT="$WORK/sr-big" /usr/bin/time -v -o "$WORK/time-big.txt" "$STRATA" build --no-cache --progress plain -t bench-scale:strata "$ctx"; then
              awk -v n="$n" '/Maximum resident set size/ { printf "big-rss strata %s %.1f\n", n, $NF / 1024 }' "$WORK/time-big.txt" | tee -a "$RSS" >&2
            fi
            rm -rf "$WORK/sr-big" ;;
          buildkit)
            uncache buildkit
            timed big buildkit "$n" build buildkit cold "$ctx" || true
            $DOCKER rmi -f bench-scale:buildkit >>"$LOG" 2>&1 || true
            uncache buildkit ;;
          buildah)
            timed big buildah "$n" build buildah cold "$ctx" || true
            "${BUILDAH[@]}" rmi -f bench-scale:buildah >>"$LOG" 2>&1 || true
            "${BUILDAH[@]}" rmi --prune >>"$LOG" 2>&1 || true ;;
        esac
      done
    done
  done
}

# unit CASE names the unit of a case's size.
unit() {
  case $1 in
    files-*) echo file ;;
    instrs) echo instruction ;;
    stages) echo stage ;;
    layers) echo layer ;;
    big) echo GB ;;
    *) echo unit ;;
  esac
}

# medians writes "CASE TOOL SIZE MEDIAN RUNS" lines from the raw times.
medians() {
  sort -k1,1 -k2,2 -k3,3n "$RES" | awk '
    { k = $1 " " $2 " " $3; v[k, ++n[k]] = $4; if (!(k in seen)) { seen[k] = 1; keys[++nk] = k } }
    END { for (j = 1; j <= nk; j++) { k = keys[j]; m = n[k]
      for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[k, b] < v[k, a]) { t = v[k, a]; v[k, a] = v[k, b]; v[k, b] = t }
      med = (m % 2) ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2
      printf "%s %.3f %d\n", k, med, m } }'
}

# case_report CASE BASE writes a case's table of medians and ratios, the
# slopes, and its chart BASE-CASE.svg.
case_report() {
  local c=$1 base=$2 u
  u=$(unit "$c")
  echo
  echo "## $c"
  echo
  echo "| size ($u) | strata s | buildkit s | buildah s | strata ÷ buildkit | runs (strata, buildkit, buildah) |"
  echo "| ---: | ---: | ---: | ---: | ---: | --- |"
  awk -v c="$c" '$1 == c { m[$3, $2] = $4; r[$3, $2] = $5; if (!($3 in seen)) { seen[$3] = 1; sz[++n] = $3 } }
    function v(x, t) { return ((x, t) in m) ? m[x, t] : "-" }
    function runs(x, t) { return ((x, t) in r) ? r[x, t] : 0 }
    END { for (i = 1; i <= n; i++) { x = sz[i]; s = v(x, "strata"); k = v(x, "buildkit")
      q = (s != "-" && k != "-" && k > 0) ? sprintf("%.2f", s / k) : "-"
      printf "| %s | %s | %s | %s | %s | %s, %s, %s |\n", x, s, k, v(x, "buildah"), q, runs(x, "strata"), runs(x, "buildkit"), runs(x, "buildah") } }' "$OUT/medians.txt"
  echo
  echo "Least-squares slope over the medians, and the cost per $u between neighbouring sizes:"
  echo
  awk -v c="$c" -v u="$u" '$1 == c { t = $2; i = ++n[t]; x[t, i] = $3; y[t, i] = $4; sx[t] += $3; sy[t] += $4; sxx[t] += $3 * $3; sxy[t] += $3 * $4 }
    END { for (t in n) { d = n[t] * sxx[t] - sx[t] * sx[t]; s = d ? (n[t] * sxy[t] - sx[t] * sy[t]) / d : 0
      seg = ""
      for (i = 2; i <= n[t]; i++) seg = seg sprintf("%s%s→%s: %.3f ms", i > 2 ? ", " : "", x[t, i - 1], x[t, i], 1000 * (y[t, i] - y[t, i - 1]) / (x[t, i] - x[t, i - 1]))
      printf "- %s: %.3f ms per %s (%s)\n", t, s * 1000, u, seg } }' "$OUT/medians.txt" | sort
  awk '{ print $1, $2, $3, $4 }' "$OUT/medians.txt" | awk -v case="$c" -v xlabel="$c: size ($u)" -f bench/svgplot.awk >"$base-$c.svg"
  echo
  echo "![$c]($(basename "$base")-$c.svg)"
  if grep -q "^${c%%-*} " "$LOAD"; then
    echo
    echo "Load averages (1, 5, 15 min) at the start and end of the case: $(awk -v c="${c%%-*}" '$1 == c { printf "%s%s %s %s %s", sep, $2, $3, $4, $5; sep = "; " }' "$LOAD")."
  fi
}

# docker_version prints the server's version (the client alone prints an
# empty one and fails), or why there is none.
docker_version() {
  local v
  v=$($DOCKER version --format '{{.Server.Version}}' 2>/dev/null) && [ -n "$v" ] || v='? (dockerd not running)'
  echo "$v"
}

# report writes the medians, slopes and charts.
report() {
  local out base c
  out=${REPORT:-bench/results/scale-$(date -u +%F-%H%M).md}
  base=${out%.md}
  mkdir -p "$(dirname "$out")"
  medians >"$OUT/medians.txt"
  cp "$OUT/medians.txt" "$base-medians.txt"
  {
    echo "# strata scale curves, $(date -u '+%F %H:%M') UTC"
    echo
    echo "Median wall time per point (runs per point in the tables); $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, Linux $(uname -r); strata $(git rev-parse --short HEAD)"
    echo "($("$STRATA" version 2>/dev/null | head -1)); docker $(docker_version)."
    echo "Medians: $(basename "$base")-medians.txt (case tool size seconds runs). Stores on: $(fs_line)."
    for c in $(cut -d' ' -f1 "$OUT/medians.txt" | uniq); do
      case_report "$c" "$base"
    done
    if [ -s "$RSS" ]; then
      echo
      echo "## big: strata's peak RSS"
      echo
      echo "| size (GB) | peak RSS MB, each run | target |"
      echo "| ---: | --- | --- |"
      awk '{ v[$3] = v[$3] (v[$3] == "" ? "" : ", ") $4; if (!($3 in seen)) { seen[$3] = 1; sz[++n] = $3 } } END { for (i = 1; i <= n; i++) printf "| %s | %s | < 200 |\n", sz[i], v[sz[i]] }' "$RSS"
    fi
    if [ -s "$OUT/failures.txt" ]; then
      echo
      echo "Failures:"
      sed 's/^/- /' "$OUT/failures.txt"
    fi
  } >"$out"
  cat "$out"
}

# run_case CASE runs one case between two load records.
run_case() {
  load "$1" start
  case $1 in
    files) case_files ;;
    instrs) case_df instrs "$INSTRS_SIZES" gen_instrs ;;
    stages) case_df stages "$STAGES_SIZES" gen_stages ;;
    layers) case_df layers "$LAYERS_SIZES" gen_layers ;;
    big) case_big ;;
  esac
  load "$1" end
}

if [ "$REPORT_ONLY" = 1 ]; then
  resolve_fs
  paths
  [ -n "$STRATA" ] || STRATA=$OUT/strata
  report
  exit 0
fi
trap unmount_work EXIT
setup
for c in files instrs stages layers big; do
  has "$c" "$CASES" && run_case "$c"
done
report
