#!/bin/bash
# Stage 2 of the cgroup v2 guest, pid 1 on the overlaid host root (see
# tests/cgroup_v2/run.sh). Mounts what a booted system has (proc, sysfs,
# cgroup2 as systemd mounts it, tmpfs /run and /tmp, loopback up), delegates
# cpu, memory and pids from the root cgroup, runs each suite of OUT/plan in
# a cgroup of its own with the time scale measured just before, and powers off.
#
#   guest.sh OUT      OUT: the host's result folder, shared read-write
# OUT/plan: one "NAME MODE SCRIPT" line per suite; OUT/host-calibration:
# the host's figure. Writes OUT/NAME.log per suite, OUT/scale (NAME SCALE
# lines), OUT/done.
set -u
out=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8

say() { echo "pyexec-guest: $*"; }
halt() {
    sync
    echo o > /proc/sysrq-trigger
    sleep 60
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# The repository and the result folder may live under /tmp or /run (a clean
# clone in /tmp, say), which get tmpfs mounts of their own just below: the
# host's are kept aside first, and those folders bound back in.
keep=()
for d in "$repo" "$out"; do
    case $d/ in /tmp/* | /run/*) keep+=("$d") ;; esac
done
if [ ${#keep[@]} -gt 0 ]; then
    mkdir -p /mnt/host-tmp /mnt/host-run
    mount --rbind /tmp /mnt/host-tmp
    mount --rbind /run /mnt/host-run
fi
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
for d in "${keep[@]}"; do  # the repository first: the result folder may be inside it
    case $d in /tmp/*) src=/mnt/host-tmp/${d#/tmp/} ;; *) src=/mnt/host-run/${d#/run/} ;; esac
    mkdir -p "$d" && mount --rbind "$src" "$d" || say "cannot bind $d back"
done
ip link set lo up
hostname pyexec-guest

say "stage 2 on $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) MiB"
say "cgroup mounts: $(awk '$3 ~ /^cgroup/ {printf "%s %s; ", $2, $3}' /proc/mounts)"
say "root controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
# Delegate as systemd does for a unit with Delegate=yes: the controllers
# are enabled from the root down, and each suite gets a cgroup of its own.
echo "+cpu +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control || { say "cannot enable controllers"; halt; }

while read -r name mode script; do
    [ -n "$name" ] || continue
    cg=/sys/fs/cgroup/suite-$name
    mkdir "$cg"
    # Measured again for each suite: the host is shared, and its load (so
    # the guest's speed) changes during a run of many minutes.
    scale=$(/usr/bin/python3 tests/cgroup_v2/calibrate.py --scale "$(cat "$out/host-calibration")")
    echo "$name $scale" >> "$out/scale"
    export PYEXEC_TIME_SCALE=$scale
    say "suite $name ($mode, time scale $scale): $script"
    start=$(date +%s)
    (
        echo 0 > "$cg/cgroup.procs"
        exec env PYEXEC_TEST_MODE="$mode" /usr/bin/python3 "$script"
    ) > "$out/$name.log" 2>&1
    say "suite $name took $(($(date +%s) - start)) s: $(grep -E '^[a-z0-9_-]+: [0-9]+ passed' "$out/$name.log" | tail -n 1)"
done < "$out/plan"
echo ok > "$out/done"
say "done"
halt
