#!/bin/bash
# Container entry point, started by tini (the image's init: it reaps
# orphans and hands `docker stop`'s SIGTERM to this script). Runs pyexecd and
# nginx side by side; when either exits, the other is stopped and the
# container ends, with status 1 unless it was asked to stop, so that a
# restart policy or an orchestrator replaces it instead of nginx answering
# 502 forever. Arguments are added to `pyexecd serve`.
#
# The environment can point it elsewhere (tests/e2e/test_entrypoint.py runs
# it outside a container): PYEXECD (the binary), PYEXEC_SOCKET_DIR,
# PYEXEC_NGINX_ARGS (added to `nginx`), PYEXEC_REMOUNT_CGROUP=no.
# PYEXEC_NGINX=no runs pyexecd alone, an executor behind another host's
# nginx (deploy/docker-compose.yml): give it --listen HOST:PORT.
set -eu
pyexecd_bin=${PYEXECD:-/usr/local/bin/pyexecd}
socket_dir=${PYEXEC_SOCKET_DIR:-/run/pyexecd}
socket=$socket_dir/pyexecd.sock
mkdir -p "$socket_dir"
# With --cgroupns=private the container's own cgroup is /sys/fs/cgroup, but
# mounted read-only; pyexecd creates its runs' cgroups below it.
# (A no-op when it is writable already; pyexecd says so if it is not.)
if [ "${PYEXEC_REMOUNT_CGROUP:-yes}" = yes ]; then
  mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
fi

if [ "${PYEXEC_NGINX:-yes}" = no ]; then
  exec "$pyexecd_bin" serve "$@"  # tini hands it docker stop's SIGTERM
fi

stopping=
nginx=
trap 'stopping=1; kill -TERM $nginx $pyexecd 2>/dev/null || true' INT TERM
"$pyexecd_bin" serve --listen "$socket" --socket-group www-data "$@" & pyexecd=$!
for _ in $(seq 100); do
  [ -S "$socket" ] && break
  kill -0 "$pyexecd" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$stopping" ] && kill -0 "$pyexecd" 2>/dev/null; then
  # shellcheck disable=SC2086  # PYEXEC_NGINX_ARGS is a list of arguments
  nginx ${PYEXEC_NGINX_ARGS:-} & nginx=$!
  set +e
  wait -n -p first "$pyexecd" "$nginx"
  set -e
  # wait returns early when a signal's trap ran; then `first` is empty.
  if [ -z "$stopping" ]; then
    [ "${first:-}" = "$nginx" ] && who=nginx || who=pyexecd
    echo "pyexec-entrypoint: $who exited; stopping the other" >&2
  fi
fi
kill -TERM $nginx $pyexecd 2>/dev/null || true
# Until both have exited: `wait` returns above 128 when a trap interrupted it.
while true; do rc=0; wait || rc=$?; [ "$rc" -gt 128 ] || break; done
[ -n "$stopping" ] && exit 0
exit 1
