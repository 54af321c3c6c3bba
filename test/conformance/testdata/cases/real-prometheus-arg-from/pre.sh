# an archive that COPY (not ADD) must leave packed
mkdir -p npm_licenses/node_modules/react
echo 'MIT' > npm_licenses/node_modules/react/LICENSE
tar --sort=name --mtime=2022-01-01T00:00:00Z --owner=0 --group=0 --numeric-owner -cjf npm_licenses.tar.bz2 npm_licenses
touch -d 2022-01-01T00:00:00Z npm_licenses.tar.bz2
rm -rf npm_licenses
