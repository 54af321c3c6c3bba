echo foo-contents > foo
mkdir -p tmp/tree/tmp/sub
ln -s tmp/sub tmp/tree/symlink
touch -d 2021-01-01T00:00:00Z tmp/tree/tmp/sub tmp/tree/tmp tmp/tree
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=2021-01-01T00:00:00Z -C tmp/tree -cf t.tar .
rm -rf tmp
