#!/usr/bin/env bash
# bench/scale.sh - how strata's and BuildKit's costs grow with the size of the
# work, in the same run: for each case and size, each tool's median wall time
# of RUNS runs; then, per case, a table, the least-squares slope (seconds per
# unit of size) of each tool, and an SVG chart (bench/svgplot.awk) of time
# against size with both tools on it. Writes bench/results/scale-<date>.md
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
# Cold: strata --no-cache, docker builder prune -af first. strata uses a
# private store ($WORK/sr); BuildKit is the machine's dockerd (Debian
# docker.io, started as bench/run.sh starts it), from which only bench-scale
# images are removed. Wrap runs in `flock /work/heavy.lock` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
CASES=${CASES:-files,instrs,stages,layers}
TOOLS=${TOOLS:-strata,buildkit}
WORK=${BENCH_WORK:-/tmp/bench-scale}
STRATA=${STRATA:-}
FILES_SIZES=${FILES_SIZES:-1000,10000,100000}
INSTRS_SIZES=${INSTRS_SIZES:-10,100,500}
STAGES_SIZES=${STAGES_SIZES:-1,10,50}
LAYERS_SIZES=${LAYERS_SIZES:-10,60,120}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift ;;
    --cases) CASES=$2; shift ;;
    --tools) TOOLS=$2; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
has() { case ",$2," in *",$1,"*) return 0 ;; esac; return 1; }
say() { printf '%s\n' "$*" >&2; }
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1
RES=$WORK/results.txt # lines: case tool size seconds
LOG=$WORK/log.txt

setup() {
  mkdir -p "$WORK"
  : >"$RES"
  : >"$LOG"
  if [ -z "$STRATA" ]; then
    go build -o "$WORK/strata" ./cmd/strata
    STRATA=$WORK/strata
  fi
  export STRATA_ROOT=$WORK/sr
  if has buildkit "$TOOLS" && ! $DOCKER info >/dev/null 2>&1; then
    say "starting dockerd"
    nohup dockerd --experimental --storage-driver=overlay2 >/tmp/dockerd.log 2>&1 &
    for _ in $(seq 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
  fi
  local bb=$WORK/busybox.tar
  [ -s "$bb" ] || scripts/mkbusybox.sh "$bb"
  "$STRATA" inspect bench-scale-busybox >/dev/null 2>&1 || "$STRATA" import "$bb" bench-scale-busybox >>"$LOG"
  if has buildkit "$TOOLS"; then
    $DOCKER image inspect bench-scale-busybox >/dev/null 2>&1 || $DOCKER import "$bb" bench-scale-busybox >>"$LOG"
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
    echo "$c $tool $n FAILED" >>"$WORK/failures.txt"
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
      [ "$2" = cold ] && $DOCKER builder prune -af >/dev/null 2>&1
      $DOCKER build --network host --progress plain -t bench-scale:buildkit "$3" ;;
  esac
}

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
      for tool in ${TOOLS//,/ }; do timed "$c" "$tool" "$n" build "$tool" cold "$ctx" || true; done
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

# report writes the medians, slopes and charts.
report() {
  local date out cases c
  date=$(date -u +%F-%H%M)
  out=bench/results/scale-$date.md
  mkdir -p bench/results
  sort -k1,1 -k2,2 -k3,3n "$RES" | awk '
    { k = $1 " " $2 " " $3; v[k, ++n[k]] = $4; if (!(k in seen)) { seen[k] = 1; keys[++nk] = k } }
    END { for (j = 1; j <= nk; j++) { k = keys[j]; m = n[k]
      for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[k, b] < v[k, a]) { t = v[k, a]; v[k, a] = v[k, b]; v[k, b] = t }
      med = (m % 2) ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2
      printf "%s %.3f %d\n", k, med, m } }' >"$WORK/medians.txt"
  {
    echo "# strata scale curves, $(date -u '+%F %H:%M') UTC"
    echo
    echo "Median wall time of up to $RUNS run(s) per point; $(nproc) cores; strata $(git rev-parse --short HEAD); $($DOCKER version --format 'docker {{.Server.Version}}' 2>/dev/null || echo 'docker not running'). Load when done: $(uptime | sed 's/.*load average/load average/'). Command: bench/scale.sh --runs $RUNS --cases $CASES --tools $TOOLS"
    cases=$(cut -d' ' -f1 "$WORK/medians.txt" | uniq)
    for c in $cases; do
      echo
      echo "## $c"
      echo
      echo "| size | tool | median s | runs |"
      echo "| ---: | --- | ---: | ---: |"
      awk -v c="$c" '$1 == c { printf "| %s | %s | %.3f | %s |\n", $3, $2, $4, $5 }' "$WORK/medians.txt"
      echo
      echo "Slope (least squares, seconds per unit of size):"
      awk -v c="$c" '$1 == c { t = $2; n[t]++; sx[t] += $3; sy[t] += $4; sxx[t] += $3 * $3; sxy[t] += $3 * $4 }
        END { for (t in n) { d = n[t] * sxx[t] - sx[t] * sx[t]; s = d ? (n[t] * sxy[t] - sx[t] * sy[t]) / d : 0
          printf "- %s: %.6f s per unit (%.3f ms)\n", t, s, s * 1000 } }' "$WORK/medians.txt" | sort
      awk '{ print $1, $2, $3, $4 }' "$WORK/medians.txt" | awk -v case="$c" -v xlabel="$c size" -f bench/svgplot.awk >"bench/results/scale-$date-$c.svg"
      echo
      echo "![${c}](scale-$date-$c.svg)"
    done
    if [ -s "$WORK/failures.txt" ]; then
      echo
      echo "Failures:"
      sed 's/^/- /' "$WORK/failures.txt"
    fi
  } >"$out"
  cat "$out"
}

setup
: >"$WORK/failures.txt"
has files "$CASES" && case_files
has instrs "$CASES" && case_df instrs "$INSTRS_SIZES" gen_instrs
has stages "$CASES" && case_df stages "$STAGES_SIZES" gen_stages
has layers "$CASES" && case_df layers "$LAYERS_SIZES" gen_layers
report
