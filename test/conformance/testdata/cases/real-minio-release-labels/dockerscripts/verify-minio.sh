#!/bin/sh
#

set -e

if [ ! -x "/usr/bin/minio" ]; then
    echo "minio executable binary not found refusing to proceed"
    exit 1
fi

minio --version
