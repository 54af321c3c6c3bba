mkdir -p arch/inner && printf 'from the tarball\n' > arch/inner/x.txt
touch -d @1500000000 arch/inner/x.txt arch/inner arch
tar --owner=0 --group=0 --numeric-owner --sort=name -C arch -czf arch.tar.gz inner
touch -d @1500000000 arch.tar.gz
rm -rf arch
