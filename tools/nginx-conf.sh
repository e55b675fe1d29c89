#!/bin/sh
# Writes a standalone nginx configuration around nginx/pyexec.conf, for
# `make run` and the tests: foreground, logs to stderr, everything under
# PREFIX, listening on 127.0.0.1:PORT and forwarding to SOCKET.
# usage: nginx-conf.sh PREFIX PORT SOCKET|HOST:PORT[,HOST:PORT...] [RATE_LIMIT]
#   Several HOST:PORT: one upstream server each, with pyexec.conf's parameters.
#   RATE_LIMIT=on turns the per-client limit on (tests of 429).
# Settings from the environment (the tests'); unset, pyexec.conf's defaults:
#   PYEXEC_METRICS=PATH|HOST:PORT[,HOST:PORT...]|none  pyexecd's metrics
#       socket; default: as pyexecd's --metrics-listen (beside a unix SOCKET;
#       none with TCP, and then /metrics goes to the workers' socket). Several:
#       one per executor, served as /metrics/1, /metrics/2, ...
#   PYEXEC_METRICS_ALLOW="ADDR|CIDR ..."  who may GET /metrics (default loopback)
#   PYEXEC_TOKENS=FILE  bearer tokens required on /run (tools/nginx-tokens.sh)
#   PYEXEC_ACCESS_LOG=FILE  one line per request: id, status, and each upstream
#       attempt's address, status, bytes sent and connect time
set -eu
prefix=$1 port=$2 socket=$3 rate=${4:-off}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$prefix/tmp"
chmod 0755 "$prefix" "$prefix/tmp"
upstream_of() {
  case $1 in
    /*) echo "unix:$1" ;;   # a unix socket path
    *)  echo "$1" ;;        # HOST:PORT, FastCGI over TCP
  esac
}
first=${socket%%,*}
case ${PYEXEC_METRICS:-} in
  "") case $first in /*) metrics=${first%.sock}-metrics.sock ;; *) metrics=none ;; esac ;;
  *) metrics=$PYEXEC_METRICS ;;
esac
servers=
for s in $(echo "$socket" | tr ',' ' '); do servers="$servers $(upstream_of "$s")"; done
# One server line per address, each with the parameters of pyexec.conf's.
awk -v servers="$servers" '
  /server unix:\/run\/pyexecd\/pyexecd\.sock/ {
    n = split(servers, list, " ")
    for (i = 1; i <= n; i++) { line = $0; sub(/unix:\/run\/pyexecd\/pyexecd\.sock/, list[i], line); print line }
    next
  }
  { print }' "$here/nginx/pyexec.conf" |
  sed -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$port;|" > "$prefix/pyexec.conf"
if [ "$metrics" = none ]; then
  sed -i -e "s|server unix:/run/pyexecd/pyexecd-metrics.sock;|server $(upstream_of "$first");|" \
         -e 's|fastcgi_pass pyexecd_metrics;|fastcgi_pass pyexecd;|' "$prefix/pyexec.conf"
else
  # Several metrics sockets (one per executor): /metrics/1, /metrics/2, ...
  # each from its own upstream, in the order given; one: /metrics.
  list=
  for m in $(echo "$metrics" | tr ',' ' '); do list="$list $(upstream_of "$m")"; done
  awk -v list="$list" '
    function flush(block, kind,    n, i, out, addr) {
      n = split(list, addr, " ")
      for (i = 1; i <= n; i++) {
        out = block
        sub(/unix:\/run\/pyexecd\/pyexecd-metrics\.sock/, addr[i], out)
        if (n > 1) {
          gsub(/pyexecd_metrics/, "pyexecd_metrics_" i, out)
          sub(/location = \/metrics /, "location = /metrics/" i " ", out)
        }
        printf "%s", out
      }
    }
    /^upstream pyexecd_metrics \{/ { kind = "u"; block = "" }
    /^    location = \/metrics \{/ { kind = "l"; block = "" }
    kind != "" { block = block $0 "\n"
                 if ((kind == "u" && /^\}/) || (kind == "l" && /^    \}/)) { flush(block); kind = "" }
                 next }
    { print }' "$prefix/pyexec.conf" > "$prefix/pyexec.conf.new"
  mv "$prefix/pyexec.conf.new" "$prefix/pyexec.conf"
fi
if [ -n "${PYEXEC_METRICS_ALLOW:-}" ]; then
  allow=$(for a in $PYEXEC_METRICS_ALLOW; do printf 'allow %s; ' "$a"; done)
  sed -i -e '/^        allow ::1;$/d' -e "s|^        allow 127.0.0.1;$|        $allow|" "$prefix/pyexec.conf"
fi
if [ -n "${PYEXEC_TOKENS:-}" ]; then
  "$here/tools/nginx-tokens.sh" "$PYEXEC_TOKENS" > "$prefix/tokens.map"
  sed -i "s|^    default 1;$|    default 0; include $prefix/tokens.map;|" "$prefix/pyexec.conf"
fi
if [ "$rate" = on ]; then
  sed -i 's|map $remote_addr $pyexec_rate_key { default ""; }|map $remote_addr $pyexec_rate_key { default $binary_remote_addr; }|' "$prefix/pyexec.conf"
fi
access="access_log off;"
if [ -n "${PYEXEC_ACCESS_LOG:-}" ]; then
  access="log_format pyexec_upstream '\$pyexec_rid\\t\$request_method\\t\$uri\\t\$status\\t\$upstream_addr\\t\$upstream_status\\t\$upstream_bytes_sent\\t\$upstream_connect_time\\t\$msec';
    access_log $PYEXEC_ACCESS_LOG pyexec_upstream;"
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
    $access
    client_body_temp_path $prefix/tmp/body;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    proxy_temp_path $prefix/tmp/proxy;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    include $prefix/pyexec.conf;
}
CONF
echo "$user"
