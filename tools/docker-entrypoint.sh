#!/bin/sh
# Container entry point: pyexecd and nginx; when either stops, both stop.
set -eu
mkdir -p /run/pyexecd
# With --cgroupns=private the container's own cgroup is /sys/fs/cgroup, but
# mounted read-only; pyexecd creates its runs' cgroups below it.
# (A no-op when it is writable already; pyexecd says so if it is not.)
mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
/usr/local/bin/pyexecd serve --listen /run/pyexecd/pyexecd.sock --socket-group www-data \
  --seccomp-profile /usr/share/pyexec/seccomp-profiles/python.json "$@" &
pyexecd=$!
for _ in $(seq 100); do [ -S /run/pyexecd/pyexecd.sock ] && break; sleep 0.1; done
nginx & nginx=$!
trap 'kill -TERM $nginx $pyexecd 2>/dev/null' INT TERM
wait $nginx $pyexecd
