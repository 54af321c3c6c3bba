mkdir -p tree/dir && echo a > tree/a && echo b > tree/dir/b
tar --numeric-owner --sort=name --mtime=2021-01-01T00:00:00Z --owner=7:7 --group=9:9 -C tree -cf t.tar a dir
rm -rf tree
