#!/bin/bash
# conformance-rootless.sh - runs ../shared/conformance with strata as an
# ordinary user (rootless), Docker (root's dockerd) staying the oracle.
# Makes the user strata-rootless-test with a subordinate id range if it is
# missing, copies bin/strata where the user can run it, and hands each build
# context to the user, as a rootless user builds contexts of their own.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
user=strata-rootless-test
if ! id "$user" >/dev/null 2>&1; then
  useradd -m "$user"
fi
if ! grep -q "^$user:" /etc/subuid; then
  usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$user"
fi
home=$(mktemp -d /tmp/strata-rootless-conf.XXXXXX)
work=$home/work
mkdir -m 755 "$work"
cp "$repo/bin/strata" "$home/strata"
chown -R "$user:" "$home"
chmod 755 "$home"
cat >"$home/wrapper" <<WRAP
#!/bin/sh
chmod o+rx $work/strata-conformance.* 2>/dev/null
if [ "\$1" = build ]; then for a; do ctx=\$a; done; chown -R $user: "\$ctx"; fi
exec setpriv --reuid=\$(id -u $user) --regid=\$(id -g $user) --clear-groups \\
  env HOME=$home XDG_DATA_HOME=$home/data $home/strata "\$@"
WRAP
chmod 755 "$home/wrapper"
STRATA=$home/wrapper CONFORMANCE_WORK=$work "$repo/../shared/conformance/run.sh" "$@"
