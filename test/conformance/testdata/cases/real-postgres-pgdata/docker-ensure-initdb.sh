#!/usr/bin/env bash
set -Eeuo pipefail

# This script is intended for three main use cases: initdb when needed
echo "ensure initdb (stand-in)"
