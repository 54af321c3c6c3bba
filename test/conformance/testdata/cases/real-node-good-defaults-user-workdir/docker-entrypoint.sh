#!/bin/sh
set -e

# if any files are named *_FILE, read them into the matching variables
for var in $(env | sed -n 's/^\([A-Z_]*\)_FILE=.*/\1/p'); do
  eval "export $var=\"\$(cat \"\$${var}_FILE\")\""
done

exec "$@"
