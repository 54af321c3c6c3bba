mkdir -p r/real r2/lib
ln -s /real r/lib
echo payload > r2/lib/file
tar --numeric-owner --sort=name --mtime=2021-01-01T00:00:00Z --owner=0 --group=0 -C r -cf rootfs.tar real lib
tar --numeric-owner --sort=name --mtime=2021-01-01T00:00:00Z --owner=0 --group=0 -C r2 -cf payload.tar lib/file
rm -rf r r2
