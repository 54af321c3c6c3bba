mkdir -p h/sub m
echo linked > h/orig && ln h/orig h/sub/second && ln h/orig h/third
tar --numeric-owner --sort=name --mtime=2021-01-01T00:00:00Z --owner=0 --group=0 -C h -cf links.tar orig sub third
echo x > m/exec && chmod 0750 m/exec && echo y > m/ro && chmod 0400 m/ro && mkdir -m 0711 m/dir && chmod 1777 m/dir
tar --numeric-owner --sort=name --mtime=2021-01-01T00:00:00Z --owner=1000:1000 --group=50:50 -C m -cjf modes.tar.bz2 exec ro dir
rm -rf h m
