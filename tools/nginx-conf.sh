#!/bin/sh
# Writes a standalone nginx configuration around nginx/pyexec.conf, for
# `make run` and the tests: foreground, logs to stderr, everything under
# PREFIX, listening on 127.0.0.1:PORT and forwarding to SOCKET.
# usage: nginx-conf.sh PREFIX PORT SOCKET|HOST:PORT [RATE_LIMIT]
#   RATE_LIMIT=on turns the per-client limit on (tests of 429).
set -eu
prefix=$1 port=$2 socket=$3 rate=${4:-off}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$prefix/tmp"
chmod 0755 "$prefix" "$prefix/tmp"
case $socket in
  */*) upstream="unix:$socket" ;;   # a unix socket path
  *)   upstream=$socket ;;          # HOST:PORT, FastCGI over TCP
esac
sed -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$port;|" \
    -e "s|server unix:/run/pyexecd/pyexecd.sock;|server $upstream;|" \
    "$here/nginx/pyexec.conf" > "$prefix/pyexec.conf"
if [ "$rate" = on ]; then
  sed -i 's|map $remote_addr $pyexec_rate_key { default ""; }|map $remote_addr $pyexec_rate_key { default $binary_remote_addr; }|' "$prefix/pyexec.conf"
fi
user=www-data
id -u "$user" >/dev/null 2>&1 || user=nobody
cat > "$prefix/nginx.conf" <<CONF
daemon off;
user $user;
worker_processes 1;
pid $prefix/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $prefix/tmp/body;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    proxy_temp_path $prefix/tmp/proxy;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    include $prefix/pyexec.conf;
}
CONF
echo "$user"
