#!/bin/bash
# cgroup v2 suite: runs pyexecd's suites on a real cgroup v2 kernel.
#
# Why a guest: a hybrid host (cpu, memory and pids on v1, an empty
# /sys/fs/cgroup/unified) only ever exercises the v1 backend; the v2 backend
# is otherwise tested against a fake folder tree. So this boots Debian's own
# kernel with cgroup v1 switched off and runs the real suites inside.
#
# Boot chain:
#   1. kernel   the package linux-image-amd64 depends on (today
#               linux-image-6.1.0-*-amd64), fetched with `apt-get download`
#               and unpacked with dpkg-deb into BUILD/cgroup-v2/kernel/: only
#               vmlinuz and the few module folders stage 1 needs. Nothing is
#               installed into the host's /boot or /lib/modules (a kernel
#               package there would run initramfs and bootloader hooks on
#               the host and pull ~400 MB into every Docker build stage,
#               for a file qemu only reads).
#   2. initrd   initramfs.py: busybox-static, virtio/9p/overlay modules in
#               the order their "depends=" gives (virtio_ring before
#               virtio), and init (stage 1).
#   3. qemu     qemu-system-x86_64, 2 vCPUs, GUEST_MEM_MB (3584) of memory,
#               with KVM when a short probe boot through it works, else
#               TCG emulation (nested guests here hang before the kernel
#               prints anything). Two 9p shares: the host's / read-only
#               (tag hostroot) and BUILD/cgroup-v2/out read-write (tag out).
#               Kernel command line: cgroup_no_v1=all, so every controller
#               is on the unified hierarchy.
#   4. stage 1  init: loads the modules, reads out/boot.env (the paths stay
#               off the kernel command line, which sandboxes can read),
#               mounts hostroot with a tmpfs overlay for writes, moves out
#               to its host path, switch_root to stage 2.
#   5. stage 2  guest.sh (pid 1): mounts proc, sysfs, cgroup2 (nsdelegate,
#               like systemd), tmpfs /run and /tmp, brings lo up, enables
#               +cpu +memory +pids from the root down, measures the time
#               scale (calibrate.py, against the host's figure taken just
#               before the boot), runs each planned suite in its own cgroup
#               with PYEXEC_TIME_SCALE set, writes OUT/<suite>.log, powers off.
#   6. here     adds up the suites' result lines into one line
#               "cgroup-v2: N passed, N failed" for tests/run_all.sh. A guest
#               that does not boot, does not finish in GUEST_TIMEOUT seconds,
#               or a suite without a result line counts as failed. Only a
#               machine without qemu-system-x86_64 at all gives a skip.
#
# Environment: BUILD (build), GUEST_SUITES (the plan, "NAME MODE SCRIPT"
# lines; default below), GUEST_ACCEL (kvm or tcg: skip the probe),
# GUEST_TIMEOUT (seconds, 2400), GUEST_MEM_MB (3584).
set -u
cd "$(dirname "$0")/../.."
repo=$(pwd)
BUILD=$(cd "${BUILD:-build}" && pwd)
dir=$BUILD/cgroup-v2
out=$dir/out
timeout_s=${GUEST_TIMEOUT:-2400}
mem=${GUEST_MEM_MB:-3584}

# What runs in the guest, and why. Under TCG the guest runs Python 10-20
# times slower than the host (more while the host is loaded), so all suites
# in both modes would take hours; `make test` has to stay well inside 90
# minutes on 2 cores. Chosen (about 30-40 minutes under TCG):
#   - v2-checks (test_v2.py) in both modes: the v2 layout, each run's limit
#     files, accounting, memory/pids limits, every sandbox process inside
#     its run cgroup (warm: the program that moves itself in through
#     cgroup.procs; cold: the init born inside by clone3), and the leftover
#     helpers, all against the real cgroup2 mount;
#   - e2e, limits, attacks and isolation in warm mode, the default mode and
#     the one whose cgroup entry differs between v1 and v2.
# Not chosen: the other suites in cold mode. A cold run starts an
# interpreter in its sandbox, several CPU-seconds under TCG at 0.5 CPU, so
# they would add most of an hour; and pyexecd's /health probe (numpy and
# pandas imported cold, a fixed 10 s budget inside pyexecd, not scaled)
# never answers healthy there, so their /health checks would fail for
# emulation's reasons, not v2's. Run them with GUEST_SUITES when needed.
DEFAULT_PLAN="v2-checks warm tests/cgroup_v2/test_v2.py
v2-checks-cold cold tests/cgroup_v2/test_v2.py
e2e warm tests/e2e/test_api.py
limits warm tests/security/test_limits.py
attacks warm tests/security/test_attacks.py
isolation warm tests/security/test_isolation.py"
plan=${GUEST_SUITES:-$DEFAULT_PLAN}

result() {  # result PASSED FAILED [SKIPPED]
    if [ "${3:-0}" -gt 0 ]; then
        echo "cgroup-v2: $1 passed, $2 failed, $3 skipped"
    else
        echo "cgroup-v2: $1 passed, $2 failed"
    fi
}
fail() { echo "!! cgroup-v2: $*"; result 0 1; exit 1; }

case $out/ in  # the guest binds /tmp and /run back in (guest.sh), but not /dev
    /dev/*) fail "BUILD ($BUILD) must not be under /dev" ;;
esac
qemu=$(command -v qemu-system-x86_64) || {
    echo "SKIP cgroup-v2: qemu-system-x86_64 is not installed (package qemu-system-x86)"
    result 0 0 1
    exit 0
}
busybox=/bin/busybox  # must be static: it is the initramfs' only program
[ -x "$busybox" ] || fail "no $busybox (package busybox-static)"

# ---- 1. kernel ---------------------------------------------------------------
kernel_package() {  # the versioned package linux-image-amd64 depends on
    apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
pkg=$(kernel_package)
if [ -z "$pkg" ]; then
    apt-get update -qq >/dev/null 2>&1
    pkg=$(kernel_package)
fi
[ -n "$pkg" ] || fail "apt knows no linux-image-amd64 (apt-get update failed?)"
kroot=$dir/kernel/$pkg
fetch_kernel() {  # unpacks $pkg into $kroot; only what the boot needs
    local dl tmp=$dir/kernel.tmp
    rm -rf "$tmp"
    dl=$(mktemp -d "$dir.dl.XXXXXX") || return 1
    # As root: apt's download user _apt cannot write into the build folder.
    if (cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg") >/dev/null &&
        mkdir -p "$tmp" &&
        dpkg-deb --fsys-tarfile "$dl"/*.deb | tar -x -C "$tmp" --wildcards \
            './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/virtio' './lib/modules/*/kernel/net/9p' \
            './lib/modules/*/kernel/fs/9p' './lib/modules/*/kernel/fs/netfs' \
            './lib/modules/*/kernel/fs/fscache' './lib/modules/*/kernel/fs/overlayfs' \
            './lib/modules/*/kernel/drivers/char/hw_random'; then
        rm -rf "$dl" "$dir/kernel"  # older kernels are not needed any more
        mkdir -p "$dir/kernel"
        mv "$tmp" "$kroot"
    else
        rm -rf "$dl" "$tmp"
        return 1
    fi
}
if ! ls "$kroot"/boot/vmlinuz-* >/dev/null 2>&1; then
    echo "cgroup-v2: fetching $pkg"
    if ! fetch_kernel; then
        # Offline, an older kernel fetched before still does the job.
        kroot=$(ls -d "$dir"/kernel/linux-image-* 2>/dev/null | tail -n 1)
        [ -n "$kroot" ] || fail "cannot fetch and unpack $pkg (apt-get download)"
        echo "cgroup-v2: cannot fetch $pkg; using $(basename "$kroot") fetched before"
    fi
fi
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -n 1)

# ---- 2. initramfs ------------------------------------------------------------
initrd=$dir/initramfs.cpio.gz
/usr/bin/python3 tests/cgroup_v2/initramfs.py "$kroot" "$busybox" tests/cgroup_v2/init "$initrd" ||
    fail "cannot build the initramfs"

# ---- 3. qemu -------------------------------------------------------------------
boot() {  # boot ACCEL TIMEOUT EXTRA_CMDLINE: runs the guest, console on stdout
    local cpu=max
    [ "$1" = kvm ] && cpu=host
    timeout --kill-after=10 "$2" "$qemu" -accel "$1" -cpu "$cpu" -smp 2 -m "$mem" \
        -display none -monitor none -serial stdio -no-reboot -nic none \
        -kernel "$vmlinuz" -initrd "$initrd" \
        -append "console=ttyS0 quiet panic=-1 cgroup_no_v1=all $3" \
        -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
        -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
        -fsdev local,id=out,path="$out",security_model=none \
        -device virtio-9p-pci,fsdev=out,mount_tag=out \
        -device virtio-rng-pci </dev/null
}

rm -rf "$out"
mkdir -p "$out"
accel=${GUEST_ACCEL:-}
if [ -z "$accel" ]; then
    accel=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
        if boot kvm 30 pyexec_probe=1 2>&1 | grep -q 'pyexec-guest: probe ok'; then
            accel=kvm
        else
            echo "cgroup-v2: /dev/kvm is there but a KVM guest did not boot in 30 s; using TCG"
        fi
    fi
fi

printf '%s\n' "$plan" > "$out/plan"
printf 'OUT=%s\nSTAGE2=%s\n' "$out" "$repo/tests/cgroup_v2/guest.sh" > "$out/boot.env"
/usr/bin/python3 tests/cgroup_v2/calibrate.py > "$out/host-calibration" || fail "host calibration failed"
echo "cgroup-v2: booting $(basename "$vmlinuz") under $accel (host calibration $(cat "$out/host-calibration") s)"
start=$(date +%s)
boot "$accel" "$timeout_s" "" 2>&1 | tee "$out/console.log" | grep --line-buffered '^pyexec-guest:'
rc=${PIPESTATUS[0]}
echo "cgroup-v2: guest ran $(($(date +%s) - start)) s (qemu exit $rc), time scales: $(tr "\n" " " < "$out/scale" 2>/dev/null)"

# ---- 6. results ------------------------------------------------------------
passed=0 failed=0 skipped=0
while read -r name mode script; do
    [ -n "$name" ] || continue
    line=$(grep -E '^[a-z0-9_-]+: [0-9]+ passed, [0-9]+ failed' "$out/$name.log" 2>/dev/null | tail -n 1)
    if [ -z "$line" ]; then
        echo "!! cgroup-v2: suite $name ($script, $mode) printed no result line"
        [ -f "$out/$name.log" ] && tail -n 30 "$out/$name.log"
        failed=$((failed + 1))
        continue
    fi
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    echo "  guest $mode $script -> $line"
    if [ "$f" -gt 0 ]; then
        grep -E '^(FAIL|ERROR):|^SKIP ' "$out/$name.log" | sed 's/^/    /'
    fi
    grep -E '^SKIP ' "$out/$name.log" | sed 's/^/    /'
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done < "$out/plan"
if [ ! -f "$out/done" ]; then
    echo "!! cgroup-v2: the guest did not finish (see $out/console.log):"
    tail -n 20 "$out/console.log"
    failed=$((failed + 1))
fi
result "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
