#!/usr/bin/env bash
# bench/cache-mounts.sh - RUN --mount=type=cache contents carried between
# ephemeral runners through a registry (--cache-to ...,cache-mounts=true):
# a Go build with a module dependency and its build cache, built by three
# fresh stores against docker-registry on 127.0.0.1:
#   A  cold, exporting the cache (mode=max,cache-mounts=true)
#   B  a fresh store, main.go edited, --cache-from: the two cache mounts come
#      back, and the build step runs with GOPROXY=off (it fails unless the
#      module cache was restored)
#   C  a fresh store, main.go edited, no cache: the cold cost again
# Needs docker-registry, the Go base of strata's image (scripts/mkgobase.sh,
# cached) and the Go module proxy (the RUN downloads two modules).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${BENCH_WORK:-/tmp/bench-cache-mounts}
CACHE=${STRATA_CACHE:-/var/cache/strata-conformance}
PORT=${PORT:-5099}
STRATA=${STRATA:-$W/strata}
rm -rf "$W"; mkdir -p "$W/ctx" "$W/reg"
[ -x "$STRATA" ] || go build -o "$STRATA" ./cmd/strata
gobase=$CACHE/strata-go-$(go env GOVERSION).tar
[ -s "$gobase" ] || scripts/mkgobase.sh "$gobase"

cd "$W/ctx"
cp /etc/ssl/certs/ca-certificates.crt .
cat >go.mod <<'X'
module example.com/cmdemo

go 1.26

require (
	github.com/google/go-cmp v0.7.0
	golang.org/x/text v0.42.0
)
X
cat >go.sum <<'X'
github.com/google/go-cmp v0.7.0 h1:wk8382ETsv4JYUZwIsn6YpYiWiBsYLSJiTsyBybVuN8=
github.com/google/go-cmp v0.7.0/go.mod h1:pXiqmnSA92OHEEa9HXL2W4E7lf9JzCmGVUdgjX3N/iU=
golang.org/x/text v0.42.0 h1:JbOZXgfeCPU9gacVtYliJqOhD+zhrEqK4LfdpmlUZqI=
golang.org/x/text v0.42.0/go.mod h1:ojzP1Z+2QtioaF8DTtO8K5q7JWVVYwZKenzujK0Zd0E=
X
cat >main.go <<'X'
package main

import (
	"fmt"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

func main() {
	fmt.Println(cases.Title(language.English).String("hello, world!"), cmp.Equal(1, 1))
}
X
cat >Dockerfile <<'X'
FROM gobase
ENV PATH=/usr/local/go/bin:$PATH GOFLAGS=-buildvcs=false CGO_ENABLED=0
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY main.go ./
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOPROXY=off go build -o /hello . && /hello
X
cd "$W"
cat >reg.yml <<X
version: 0.1
storage: {filesystem: {rootdirectory: $W/reg}}
http: {addr: 127.0.0.1:$PORT}
X
docker-registry serve reg.yml >reg.log 2>&1 &
rp=$!
trap 'kill $rp' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
ref=127.0.0.1:$PORT/cm:cache

run() { # run NAME STRATA-BUILD-ARGS...
  local name=$1; shift
  "$STRATA" --root "$W/$name" import "$gobase" gobase >/dev/null
  local t0 t1
  t0=$(date +%s.%N)
  "$STRATA" --root "$W/$name" build --progress plain -t cm "$@" "$W/ctx" >"$W/$name.log" 2>&1 || { tail -20 "$W/$name.log"; exit 1; }
  t1=$(date +%s.%N)
  printf '%s: build %.1f s; go build step %s s; %s\n' "$name" "$(echo "$t1 - $t0" | bc)" \
    "$(awk '/go build -o/ { n = $1 } n != "" && $1 == n && $2 == "DONE" { print $3 }' "$W/$name.log" | tr -d s)" \
    "$(grep -hoE 'restored [0-9]+ cache mounts[^#]*|[0-9]+ cache mounts, [0-9]+ bytes' "$W/$name.log" | head -1)"
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
run A --cache-to "type=registry,ref=$ref,mode=max,cache-mounts=true"
sed -i 's/hello, world!/hello again, world!/' "$W/ctx/main.go"
run B --cache-from "type=registry,ref=$ref"
run C
grep -h 'World' "$W/B.log" | head -1
