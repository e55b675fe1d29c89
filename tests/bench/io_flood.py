"""`make bench`, disk part: what one flooding run does to the host's disk,
with the per-run I/O limits off and on, measured side by side in one run.

The host's own 4 KiB random O_DIRECT reads (four threads, a big file under
/usr/lib) are counted for a few seconds: alone, beside a run that floods the
disk the same way (several threads of O_DIRECT 4 KiB reads) under
`--io-read-iops 0 --io-read-bps 0` (no limit), and beside the same run under
the defaults. Prints a markdown table; nothing is asserted.

IO_SECONDS (default 4) sets each window."""
import concurrent.futures
import json
import mmap
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from service import Service  # noqa: E402

SECONDS = float(os.environ.get("IO_SECONDS", "4"))

FLOOD = r'''
import mmap, os, random, threading, time
files = [p for p in FILES if os.path.getsize(p) >= 1 << 24]
counts = []
def reader():
    buf = mmap.mmap(-1, 4096)
    fds = [(os.open(p, os.O_RDONLY | os.O_DIRECT), os.path.getsize(p)) for p in files]
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < SECONDS:
        fd, size = fds[n % len(fds)]
        os.preadv(fd, [buf], random.randrange(size // 4096) * 4096)
        n += 1
    counts.append(n)
threads = [threading.Thread(target=reader) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(sum(counts) / SECONDS)
'''


def big_files():
    found = []
    for dirpath, _, names in os.walk("/usr/lib/x86_64-linux-gnu"):
        for n in names:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p) and os.path.isfile(p) and os.path.getsize(p) >= 16 << 20:
                found.append(p)
    return sorted(found)[:8]


def host_iops(path, seconds, threads=4):
    """4 KiB random O_DIRECT reads per second from this (host) process, with
    `threads` reads in flight (as a database or another service would)."""
    def one():
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, 4096)
        size = os.path.getsize(path)
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            os.preadv(fd, [buf], random.randrange(size // 4096) * 4096)
            n += 1
        os.close(fd)
        return n / (time.monotonic() - t0)
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(lambda _: one(), range(threads)))


def beside_flood(svc, files, probe):
    code = f"FILES = {files!r}\nSECONDS = {SECONDS + 1}\n" + FLOOD
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        run = pool.submit(svc.run, code, None, timeoutMs=int((SECONDS + 5) * 1000))
        time.sleep(0.5)
        host = host_iops(probe, SECONDS)
        status, r = run.result(timeout=60)
    flood = float(r["stdout"]) if r and r.get("status") == "ok" else float("nan")
    return host, flood


def main():
    files = big_files()
    if not files:
        print("no file of 16 MiB or more under /usr/lib/x86_64-linux-gnu: nothing to read")
        return
    probe = files[-1]
    rows = [("host alone", host_iops(probe, SECONDS), None)]
    for label, args in (("beside a flooding run, no I/O limit",
                         ["--io-read-iops", "0", "--io-read-bps", "0"]),
                        ("beside a flooding run, default limits", [])):
        svc = Service(workers=1, mode="cold", extra_args=args)
        try:
            limits = svc.health()["limits"]
            host, flood = beside_flood(svc, files, probe)
            rows.append((label + f" (ioReadIops {limits['ioReadIops']})", host, flood))
        finally:
            svc.stop()
    rows.append(("host alone, again", host_iops(probe, SECONDS), None))
    print("\n| disk, 4 KiB random O_DIRECT reads | host reads/s | the run's reads/s |")
    print("|---|---|---|")
    for label, host, flood in rows:
        print(f"| {label} | {host:.0f} | {'—' if flood is None else f'{flood:.0f}'} |")


if __name__ == "__main__":
    main()
