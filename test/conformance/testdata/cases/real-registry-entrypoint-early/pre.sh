mkdir -p rel
printf '#!/bin/sh\necho "registry github.com/distribution/distribution v2.8.0-beta.1"\n' > rel/registry
printf 'Apache License 2.0\n' > rel/LICENSE
chmod 755 rel/registry
tar --sort=name --mtime=2021-08-01T00:00:00Z --owner=0 --group=0 --numeric-owner \
    -C rel -czf registry.tar.gz registry LICENSE
touch -d 2021-08-01T00:00:00Z registry.tar.gz
rm -rf rel
