mkdir -p tree/a/b/c && echo deep > tree/a/b/c/file && echo other > tree/a/other
tar --numeric-owner --sort=name --mtime=2021-01-01T00:00:00Z --owner=0 --group=0 -C tree -cf t.tar a/b/c/file a/other
rm -rf tree
