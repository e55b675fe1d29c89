#!/bin/bash
# `make run`: pyexecd and nginx together in the foreground on 127.0.0.1:PORT.
# Ctrl-C (or SIGTERM) stops both and removes their files.
# usage: serve.sh BUILD_DIR PORT
set -eu
build=$1 port=$2
state=/run/pyexecd-$port
prefix=$(cd "$build" && pwd)/nginx-$port
mkdir -p "$state"
user=$(tools/nginx-conf.sh "$prefix" "$port" "$state/pyexecd.sock")
"$build/pyexecd" serve --listen "$state/pyexecd.sock" --socket-group "$(id -gn "$user")" \
    --state-dir "$state" & pyexecd=$!
nginx_pid=
stop() {
  trap - INT TERM EXIT
  set +e  # clean up whatever the two exit with
  [ -n "$nginx_pid" ] && kill -TERM "$nginx_pid" 2>/dev/null
  kill -TERM "$pyexecd" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$prefix"; rmdir "$state/root" "$state" 2>/dev/null
  echo "pyexec: stopped" >&2
  exit 0
}
trap stop INT TERM EXIT
for _ in $(seq 100); do [ -S "$state/pyexecd.sock" ] && break; kill -0 "$pyexecd" || exit 1; sleep 0.1; done
nginx -p "$prefix" -c "$prefix/nginx.conf" -e stderr & nginx_pid=$!
echo "pyexec: serving on http://127.0.0.1:$port (Ctrl-C stops)" >&2
wait -n "$pyexecd" "$nginx_pid" || true
