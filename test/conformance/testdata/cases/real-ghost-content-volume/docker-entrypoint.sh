#!/bin/sh
set -e

# allow the container to be started with `--user`
if [ "$1" = 'node' ] && [ "$(id -u)" = '0' ]; then
	find "$GHOST_CONTENT" \! -user node -exec chown node '{}' +
	exec su node -c "$*"
fi

exec "$@"
