#!/bin/bash
# The Docker image's root filesystem, built without Docker (there is no
# engine on the machines pyexec is developed on), and checked:
#   1. debootstrap of bookworm (minbase: what debian:bookworm-slim holds);
#   2. the Dockerfile's steps: the "# run" packages of packages.txt, then
#      `make install DESTDIR=` as the build stage does it (built on this host,
#      Debian 12 too), the entry point and nginx/container.conf;
#   3. the entry point, under tini as pid 1 of a new pid and mount namespace,
#      chrooted into it: the image's HEALTHCHECK command must pass, and
#      SIGTERM to tini must stop everything with status 0;
#   4. tests/e2e/test_api.py inside it, against the image's pyexecd, nginx,
#      python3, numpy and pandas.
# Differences from a container, all for this check: the host's network
# namespace (so nginx listens on a free port, not 8080), the host's /sys and
# cgroups (no --cgroupns=private; the entry point's remount is skipped), and
# procps added for the test suite (it reads process lists with ps).
#
# usage: tools/image-rootfs.sh [DIR]   (default /var/tmp/pyexec-rootfs)
#   Step 1 is skipped when DIR holds a system already. Needs root and
#   debootstrap; downloads about 200 MB the first time. Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(realpath -m "${1:-/var/tmp/pyexec-rootfs}")
say() { echo "image-rootfs: $*" >&2; }

if [ ! -x "$root/usr/bin/apt-get" ]; then
  say "1. debootstrap bookworm into $root"
  debootstrap --variant=minbase bookworm "$root" >&2
fi

say "2. the run packages of packages.txt, make install, entry point, nginx.conf"
run_pkgs=$(sed -n '/^# run/,/^# /p' packages.txt | sed -e 's/#.*//' | xargs)
# apt inside, with the host's resolver bound in a mount namespace of its own
# (so no other process on the host ever sees that mount).
inside() {
  unshare --mount --propagation private /bin/bash -c '
    set -e; r=$1; shift
    touch "$r/etc/resolv.conf"; mount --bind /etc/resolv.conf "$r/etc/resolv.conf"
    exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"' _ "$root" "$@"
}
inside apt-get update -qq >&2
inside apt-get install -y -qq --no-install-recommends $run_pkgs procps >&2
make --no-print-directory install DESTDIR="$root" PREFIX=/usr/local NGINXDIR=/etc/nginx >&2
rm -rf "$root/etc/systemd/system/pyexecd.service"
install -m 0755 tools/docker-entrypoint.sh "$root/usr/local/bin/pyexec-entrypoint"
install -m 0644 nginx/container.conf "$root/etc/nginx/nginx.conf"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$port;|" "$root/etc/nginx/pyexec.conf"
# The test suite and what it reads, with the image's pyexecd as its BUILD.
rm -rf "$root/src" && mkdir -p "$root/src/image-build"
cp -r tests tools nginx seccomp-profiles "$root/src/"
ln -s /usr/local/bin/pyexecd "$root/src/image-build/pyexecd"

# Runs "$@" chrooted into $root (with Docker's default PATH), as pid 1's child in new pid and mount
# namespaces ($root bound onto itself: pivot_root needs a mount point as root).
contained() {
  unshare --mount --pid --fork --kill-child --propagation private /bin/bash -c '
    set -e; r=$1; shift
    mount --bind "$r" "$r"
    mount --rbind /dev "$r/dev"; mount --rbind /sys "$r/sys"
    mount -t proc proc "$r/proc"; mount -t tmpfs -o mode=0755 tmpfs "$r/run"; mount -t tmpfs tmpfs "$r/tmp"
    exec chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"' _ "$root" "$@"
}

say "3. the entry point under tini; the HEALTHCHECK on port $port"
contained PYEXEC_REMOUNT_CGROUP=no /usr/bin/tini -- /usr/local/bin/pyexec-entrypoint --workers 2 &
container=$!
healthy=
for _ in $(seq 300); do
  if curl -fsS --head "http://127.0.0.1:$port/health" >/dev/null 2>&1; then healthy=1; break; fi
  kill -0 "$container" 2>/dev/null || break
  sleep 0.2
done
kill -TERM "$(ps -o pid= --ppid "$(ps -o pid= --ppid $container | head -1)" | head -1)" 2>/dev/null || true
set +e; wait "$container"; stopped=$?; set -e
[ -n "$healthy" ] || { say "FAILED: HEAD /health never answered 200"; exit 1; }
say "HEALTHCHECK passed; SIGTERM to tini: exit status $stopped"
[ "$stopped" = 0 ] || { say "FAILED: the container did not stop cleanly"; exit 1; }

say "4. tests/e2e/test_api.py inside the image"
contained BUILD=/src/image-build /usr/bin/python3 /src/tests/e2e/test_api.py
