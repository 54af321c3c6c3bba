mkdir -p t1/foo t2/bar && echo foo > t1/foo/a && echo bar > t2/bar/b
tar --numeric-owner --sort=name --mtime=2021-01-01T00:00:00Z --owner=0 --group=0 -C t1 -cf one.tar foo
tar --numeric-owner --sort=name --mtime=2021-01-01T00:00:00Z --owner=0 --group=0 -C t2 -cf two.tar bar
rm -rf t1 t2
