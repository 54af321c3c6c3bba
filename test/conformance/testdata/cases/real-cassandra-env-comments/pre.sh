set -e
d=apache-cassandra-4.0-rc2
mkdir -p $d/bin $d/conf $d/lib
printf '#!/bin/sh\necho 4.0-rc2\n' > $d/bin/cassandra
chmod 755 $d/bin/cassandra
printf 'cluster_name: '"'"'Test Cluster'"'"'\nnum_tokens: 16\n' > $d/conf/cassandra.yaml
printf -- '-Xss256k\n' > $d/conf/jvm.options
chmod 640 $d/conf/jvm.options
echo 'jar stand-in' > $d/lib/apache-cassandra-4.0-rc2.jar
tar --sort=name --mtime=2021-04-27T00:00:00Z --owner=1000 --group=1000 --numeric-owner -czf cassandra-bin.tgz $d
rm -rf $d
