#!/bin/bash
# `make run`: pyexecd and nginx together in the foreground on 127.0.0.1:PORT.
# Ctrl-C (or SIGTERM) stops both and removes their files; so does either
# one's death (the other is stopped, and the exit code says it failed).
# usage: serve.sh BUILD_DIR PORT [PYEXECD SETTINGS...]
#   The settings are added to `pyexecd serve` (make run: PYEXECD_ARGS).
set -eu
build=$1 port=$2
shift 2
for arg in "$@"; do
  case $arg in
    --listen|--listen=*|--socket-group|--socket-group=*)
      echo "serve.sh: make run sets $arg itself (nginx forwards to it); use PORT= for the port" >&2
      exit 2 ;;
  esac
done
state=/run/pyexecd-$port
prefix=$(cd "$build" && pwd)/nginx-$port
mkdir -p "$state"
user=$(tools/nginx-conf.sh "$prefix" "$port" "$state/pyexecd.sock")
"$build/pyexecd" serve --listen "$state/pyexecd.sock" --socket-group "$(id -gn "$user")" \
    --state-dir "$state" "$@" & pyexecd=$!
nginx_pid=
status=0
stop() {
  trap - INT TERM EXIT
  set +e  # clean up whatever the two exit with
  [ -n "$nginx_pid" ] && kill -TERM "$nginx_pid" 2>/dev/null
  kill -TERM "$pyexecd" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$prefix"; rmdir "$state/root" "$state" 2>/dev/null
  echo "pyexec: stopped" >&2
  exit "$status"
}
trap stop INT TERM EXIT
for _ in $(seq 100); do [ -S "$state/pyexecd.sock" ] && break; kill -0 "$pyexecd" || { status=1; exit 1; }; sleep 0.1; done
nginx -p "$prefix" -c "$prefix/nginx.conf" -e stderr & nginx_pid=$!
echo "pyexec: serving on http://127.0.0.1:$port (Ctrl-C stops)" >&2
# Returns when either exits, or when a signal's trap runs (stop exits 0).
wait -n "$pyexecd" "$nginx_pid" || true
echo "pyexec: pyexecd or nginx exited; stopping the other" >&2
status=1
