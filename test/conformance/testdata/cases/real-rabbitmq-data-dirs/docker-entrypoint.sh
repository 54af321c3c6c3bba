#!/bin/sh
set -eu

# allow the container to be started with `--user`
if [ "$1" = 'rabbitmq-server' ] && [ "$(id -u)" = '0' ]; then
	exec su rabbitmq -s /bin/sh -c "$*"
fi

exec "$@"
