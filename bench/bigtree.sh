#!/bin/sh
# bigtree.sh DIR - writes the bigtree benchmark's files under DIR: 200 MB of
# hex-dump text (compresses about 2.3:1, as binaries and text in real layers
# do), 100 MB of it as 20,000 files of about 5 KB in 200 directories and
# 100 MB as one file, and 100 MB from /dev/urandom: 300 MB, a third
# incompressible. Uses only busybox applets (it runs in the bench-busybox
# image; bench/run.sh runs it on the host too, as the time of the RUN alone).
set -e
dir=${1:?usage: bigtree.sh DIR}
mkdir -p "$dir"
cd "$dir"
d=0
while [ $d -lt 200 ]; do
  mkdir "d$d"
  d=$((d + 1))
done
# od lines are 49 bytes: 102 lines (1,632 random bytes) make a file of
# 4,998 bytes, and 20,000 files take 32,640,000 random bytes.
head -c 32640000 /dev/urandom | od -An -tx1 -v |
  awk '{ f = int((NR - 1) / 102); n = "d" int(f / 100) "/f" (f % 100); print > n; if (NR % 102 == 0) close(n) }'
head -c 32640000 /dev/urandom | od -An -tx1 -v >text.txt
head -c 104857600 /dev/urandom >random.bin
