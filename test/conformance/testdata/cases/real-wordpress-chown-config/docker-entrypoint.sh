#!/bin/sh
set -eu

exec "$@"
