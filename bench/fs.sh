# bench/fs.sh - sourced by bench/run.sh, bench/scale.sh and bench/pull.sh:
# where the tools' stores live. The caller sets WORK, FS (auto, ext4 or
# host), KEEP (1: leave the file system and the private dockerd for the next
# run), DOCKER (the client, to which mount_work adds the private socket) and
# say(); mount_work sets OUT, where the caller's log and raw times go.
#
# The tools' stores live in WORK. --fs ext4 makes WORK a new ext4 of mkfs's
# defaults (so with a journal) on a loop device, and runs a private dockerd
# whose data root is in it; --fs host leaves WORK where it is and uses the
# machine's dockerd; --fs auto (the default) is ext4 when WORK's file system
# is an ext4 without a journal, and host otherwise.
#
# Why: on an ext4 without a journal (the root of the machines this bench
# was written on), creating a file skips every free inode freed less than
# 60 s ago (360 s while its inode table block is dirty), at one buffer-cache
# lookup each (recently_deleted() in fs/ext4/ialloc.c; a journalled ext4
# never checks). The bench removes each tool's last image before timing the
# next build or pull, so every tool paid for it, by how many inodes it freed
# and where: a strata pull of the bigtree image right after the last pull was
# removed took 8.5 s instead of 2.1 s, and perf record -a put 44 % of the
# machine's samples in recently_deleted() and the lookups under it
# (bench/results/2026-12-06-inodes.md for the RUN step). Waiting does not
# help: the pull dirties the very blocks whose inodes it skips.

ext4_without_journal() {
  local src
  [ "$(findmnt -no FSTYPE --target "$1" 2>/dev/null)" = ext4 ] || return 1
  src=$(findmnt -no SOURCE --target "$1")
  [ "$(cat "/sys/fs/ext4/${src##*/}/journal_task" 2>/dev/null)" = "<none>" ]
}

# resolve_fs turns FS=auto into host or ext4 and sets OUT: WORK, or beside
# it for ext4 (the loop file system goes at the end; what the run wrote
# stays).
resolve_fs() {
  mkdir -p "$WORK"
  if [ "$FS" = auto ]; then
    FS=host
    if mountpoint -q "$WORK" || ext4_without_journal "$WORK"; then
      FS=ext4
    fi
  fi
  case $FS in
    host) OUT=$WORK ;;
    ext4) OUT=${WORK%/}.out ;;
    *) say "--fs is host, ext4 or auto, not $FS"; exit 2 ;;
  esac
  mkdir -p "$OUT"
}

# mount_work makes WORK the file system --fs asks for.
mount_work() {
  local asked=$FS
  resolve_fs
  [ "$FS" = ext4 ] || return 0
  [ "$asked" = ext4 ] || say "WORK is on an ext4 without a journal: using a journalled ext4 on a loop device (--fs host or BENCH_FS=host to not)"
  DOCKER="$DOCKER -H unix://$WORK/dx/docker.sock"
  mountpoint -q "$WORK" && return 0 # left mounted by a run with --keep
  local img=${WORK%/}.img dev
  rm -f "$img"
  truncate -s "${BENCH_FS_SIZE:-100G}" "$img"
  mkfs.ext4 -q -F "$img"
  dev=$(losetup --find --show --direct-io=on "$img")
  mount "$dev" "$WORK"
}

# fs_line says where the stores were, for the results.
fs_line() {
  case $FS in
    ext4) echo "a new ext4 with a journal on a loop device (--fs ext4), docker a private dockerd on it" ;;
    *) echo "$(findmnt -no FSTYPE --target "$WORK") (--fs host), docker the machine's dockerd" ;;
  esac
}

# start_private_dockerd runs a dockerd with its data root in WORK.
start_private_dockerd() {
  $DOCKER info >/dev/null 2>&1 && return 0
  mkdir -p "$WORK/docker" "$WORK/dx"
  echo '{}' >"$WORK/dx/daemon.json"
  say "starting a private dockerd (data root $WORK/docker)"
  nohup dockerd --experimental --data-root "$WORK/docker" --exec-root "$WORK/dx/x" \
    --pidfile "$WORK/dx/pid" -H "unix://$WORK/dx/docker.sock" --config-file "$WORK/dx/daemon.json" \
    --bridge=none --iptables=false --ip6tables=false --storage-driver=overlay2 \
    </dev/null >"$WORK/dx/dockerd.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  for _ in $(seq 60); do $DOCKER info >/dev/null 2>&1 && return 0; sleep 1; done
  say "the private dockerd did not start; see $WORK/dx/dockerd.log"
  exit 1
}

# start_dockerd makes sure the dockerd the bench uses answers: the private
# one on the ext4 file system, the machine's otherwise (started when it is
# not running; it outlives the bench, so it must not keep the caller's
# descriptors: a `flock LOCK bench/...` would stay locked until it exits).
start_dockerd() {
  if [ "$FS" = ext4 ]; then
    start_private_dockerd
    return
  fi
  $DOCKER info >/dev/null 2>&1 && return 0
  say "starting dockerd"
  nohup dockerd --experimental --storage-driver=overlay2 </dev/null >/tmp/dockerd.log 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  for _ in $(seq 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
}

# stop_private_dockerd stops the dockerd start_private_dockerd started.
stop_private_dockerd() {
  [ -s "$WORK/dx/pid" ] || return 0
  local pid
  pid=$(cat "$WORK/dx/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
}

# unmount_work stops the private dockerd and removes the loop file system
# (left as it is with --keep).
unmount_work() {
  [ "$FS" = ext4 ] && [ "$KEEP" = 0 ] || return 0
  stop_private_dockerd
  mountpoint -q "$WORK" || return 0
  local dev
  dev=$(findmnt -no SOURCE --target "$WORK")
  umount "$WORK" && losetup -d "$dev" 2>/dev/null || true
  rm -f "${WORK%/}.img"
}
