mkdir -p tree/d && echo xz-content > tree/d/file && echo top > tree/top
tar --numeric-owner --sort=name --mtime=2021-01-01T00:00:00Z --owner=0 --group=0 -C tree -cf t.tar d top
xz -c t.tar > t.tar.xz
gzip -n -c t.tar > t.tar.gz
rm -rf tree t.tar
echo "not an archive" > fake.tar.gz
