#!/usr/bin/env bash
# deps.sh - installs what strata's build, tests and examples need on a fresh
# Debian 12 machine (run as root). Idempotent and quiet when all is there.
set -euo pipefail
pkgs=(busybox-static docker-registry docker.io mmdebstrap uidmap ca-certificates chromium gcc libc6-dev git openssh-client xz-utils bzip2 skopeo tmux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "deps.sh: Go is not installed (need Go 1.23+ on PATH)" >&2; exit 1; }
go mod download
