"""Security suite, part 6: what runs share through the host (SPEC §5 S6,
S10; issue 8): per-user kernel quotas, the disk, the host's identity. Every
attack runs beside a concurrent victim run and is judged from outside, as in
part 5 (test_crossrun.py, beside.py)."""
import errno
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import beside  # noqa: E402
from beside import Crossrun, beside_a_victim, literals, program_of, watched_service  # noqa: E402
from procfs import read  # noqa: E402


def tearDownModule():
    beside.stop_watched_service()


class Quotas(Crossrun):
    """Per-user kernel quotas: one run holding them leaves a concurrent run
    what it gets alone (the victim checks a 1 MiB pipe, fd passing, inotify,
    a message queue and queued real-time signals)."""

    def test_victim_alone_gets_a_big_pipe_and_passes_fds(self):
        """What the quota cases compare with is worth comparing: alone, the
        victim gets a 1 MiB pipe, passes an fd, queues its rt signals."""
        alone = watched_service().victim_alone.splitlines()
        for line in ("pipe 1 MiB 1048576", "fd passing ok", "queued rt signals 3", "caught []"):
            self.assertIn(line, alone)

    def test_many_enlarged_pipes(self):
        out = self.beside(r'''
import fcntl, time
pipes, enlarged, stop = [], 0, None
while len(pipes) < 110:
    pipes.append(_os.pipe())
    try:
        fcntl.fcntl(pipes[-1][1], fcntl.F_SETPIPE_SZ, 1 << 20)
        enlarged += 1
    except OSError as e:
        stop = e.errno
        break
held()
time.sleep(HOLD_S)
report({"enlarged": enlarged, "stopped by": stop})
''')
        self.assertEqual(out.report["stopped by"], errno.EPERM, f"the attack did not reach its pipe quota: {out.report}")

    def test_descriptors_in_flight(self):
        out = self.beside(r'''
import socket, time
a, b = socket.socketpair()
fds, sent, stop = [a.fileno()] * 250, 0, None
while sent < 40:
    try:
        socket.send_fds(a, [b"x"], fds)
        sent += 1
    except OSError as e:
        stop = e.errno
        break
held()
time.sleep(HOLD_S)
report({"in flight": sent * len(fds), "stopped by": stop})
''')
        self.assertEqual(out.report["stopped by"], errno.ETOOMANYREFS, f"the attack did not reach its quota: {out.report}")

    def test_queued_realtime_signals(self):
        out = self.beside(r'''
import signal, time
def queued():
    line = [l for l in open("/proc/self/status") if l.startswith("SigQ:")][0]
    return [int(x) for x in line.split()[1].split("/")]
sigs = list(range(signal.SIGRTMIN, signal.SIGRTMAX + 1))
signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
me = _os.getpid()
last = -1
while queued()[0] < queued()[1] and queued()[0] != last:
    last = queued()[0]
    for _ in range(200):
        for sig in sigs:
            _os.kill(me, sig)
held()
time.sleep(HOLD_S)
report({"SigQ": queued()})
''', timeout_ms=5000)
        queued, limit = out.report["SigQ"]
        self.assertGreaterEqual(queued, limit, f"the attack did not reach its RLIMIT_SIGPENDING: {out.report}")

    def test_inotify_instances(self):
        self.beside(r'''
import time
fds, stop = [], None
while len(fds) < 200:
    fd = _libc.inotify_init1(0)
    if fd < 0:
        stop = _ct.get_errno()
        break
    fds.append(fd)
held()
time.sleep(HOLD_S)
report({"instances": len(fds), "stopped by": stop})
''')

    def test_message_queues(self):
        self.beside(r'''
import time
class Attr(_ct.Structure):
    _fields_ = [("flags", _ct.c_long), ("maxmsg", _ct.c_long), ("msgsize", _ct.c_long),
                ("curmsgs", _ct.c_long), ("pad", _ct.c_long * 4)]
queues, stop = [], None
while len(queues) < 64:
    name = ("/attack-%d" % len(queues)).encode()
    fd = _libc.mq_open(name, _os.O_CREAT | _os.O_RDWR, 0o600, _ct.byref(Attr(0, 10, 8192, 0)))
    if fd < 0:
        stop = _ct.get_errno()
        break
    queues.append(name)
held()
time.sleep(HOLD_S)
for name in queues:
    _libc.mq_unlink(name)
report({"queues": len(queues), "stopped by": stop})
''')


def host_value(path):
    return (read(path) or "").strip()


class HostIdentity(unittest.TestCase):
    """The host's identity does not show (S10). One attack beside a victim
    reads it all; each test checks one part."""

    MASKED = ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug")
    EMPTY = ("/proc/acpi", "/proc/scsi")
    READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus")
    CODE = literals(MASKED=MASKED, EMPTY=EMPTY) + r'''
import socket, time
def readable(path):
    try:
        with open(path, "rb") as f:
            return len(f.read(1 << 16))
    except OSError as e:
        return e.errno
def listing(path):
    try:
        return sorted(_os.listdir(path))
    except OSError as e:
        return e.errno
def text(path):
    try:
        return open(path).read().strip()
    except OSError as e:
        return e.errno
held()
time.sleep(1)  # the host reads the run's mount table meanwhile
report({"hostname": socket.gethostname(), "nodename": _os.uname().nodename,
        "masked": {p: readable(p) for p in MASKED}, "empty": {p: listing(p) for p in EMPTY},
        "cmdline": text("/proc/cmdline"), "boot_id": text("/proc/sys/kernel/random/boot_id")})
'''
    outcome = None

    @classmethod
    def setUpClass(cls):
        def mountinfo(pids):
            program = program_of(pids)
            return read(f"/proc/{program}/mountinfo") if program else None
        cls.outcome = beside_a_victim(watched_service(), cls.CODE, while_held=mountinfo)

    def seen(self):
        out = self.outcome
        self.assertIsNotNone(out.report, out.describe())
        return out.report

    def test_beside_a_victim_nothing_crossed(self):
        if self.outcome.problems:
            self.fail(self.outcome.describe())

    def test_hostname_is_sandbox(self):
        seen = self.seen()
        self.assertEqual((seen["hostname"], seen["nodename"]), ("sandbox", "sandbox"))

    def test_proc_files_masked(self):
        for path, got in self.seen()["masked"].items():
            self.assertTrue(got == 0 or got in (errno.ENOENT, errno.EACCES, errno.EPERM),
                            f"{path} readable in the run: {got} bytes")

    def test_proc_folders_empty(self):
        for path, got in self.seen()["empty"].items():
            self.assertTrue(got == [] or got == errno.ENOENT, f"{path} in the run: {got}")

    def test_proc_read_only(self):
        """Judged on the host, from the run's mount table."""
        table = self.outcome.held
        self.assertTrue(table, f"the run's mount table was not read: {self.outcome.describe()}")
        mounts = []
        for line in table.splitlines():
            fields = line.split(" - ")[0].split()
            mounts.append((fields[4], fields[5].split(",")))
        for path in self.READ_ONLY:
            if not os.path.exists(path):
                continue  # this kernel has no such file: nothing to write to
            covering = max((m for m in mounts if path == m[0] or path.startswith(m[0].rstrip("/") + "/")),
                           key=lambda m: len(m[0]))
            self.assertIn("ro", covering[1], f"{path} is on {covering[0]} mounted {','.join(covering[1])}")

    def test_host_cmdline_and_boot_id_hidden(self):
        seen = self.seen()
        for key, path in (("cmdline", "/proc/cmdline"), ("boot_id", "/proc/sys/kernel/random/boot_id")):
            self.assertNotEqual(seen[key], host_value(path), f"the run reads the host's {path}")


class DiskIO(Crossrun):
    """Disk reads and writes are throttled per run (S10): the attack's rate
    stays under the limits /health states, beside a victim."""

    TOLERANCE = 1.5  # a throttle lets a short burst through; over a second it holds

    def limits(self):
        health = json.loads(watched_service().svc.request("GET", "/health", timeout=30)[2])
        limits = health.get("limits", {})
        keys = ("ioReadBps", "ioReadIops", "ioWriteBps", "ioWriteIops")
        if not all(k in limits for k in keys):
            self.skipTest(f"/health limits lack {[k for k in keys if k not in limits]}: no I/O throttle to check")
        cgroup = health.get("sandbox", {}).get("cgroup")
        have = ("io" in (read("/sys/fs/cgroup/cgroup.controllers") or "").split() if cgroup == "v2"
                else os.path.isdir("/sys/fs/cgroup/blkio"))
        if not have:
            self.skipTest(f"this host's cgroup {cgroup} has no io/blkio controller")
        return limits

    @staticmethod
    def big_files(count=8, least=16 << 20):
        found = []
        for top in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/python3/dist-packages"):
            for dirpath, _, names in os.walk(top):
                for n in names:
                    p = os.path.join(dirpath, n)
                    if not os.path.islink(p) and os.path.isfile(p) and os.path.getsize(p) >= least:
                        found.append((os.path.getsize(p), p))
        return [p for _, p in sorted(found, reverse=True)[:count]]

    def test_direct_reads(self):
        limits = self.limits()
        files = self.big_files()
        self.assertTrue(files, "no file of 16 MiB or more under /usr/lib to read")
        out = self.beside(literals(FILES=files) + r'''
import mmap, random, time
buf = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT wants
fds = [(_os.open(p, _os.O_RDONLY | _os.O_DIRECT), _os.path.getsize(p)) for p in FILES]
def rate(block, seconds, rand):
    done = ops = 0
    view, pos, t0 = memoryview(buf)[:block], 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        fd, size = fds[ops % len(fds)]
        off = random.randrange(size // 4096) * 4096 if rand else pos % (size - block) // 4096 * 4096
        done += _os.preadv(fd, [view], off)
        ops += 1
        pos += block
    took = time.monotonic() - t0
    return [done / took, ops / took]
report({"sequential": rate(1 << 20, 1.2, False), "random": rate(4096, 1.2, True)})
''', timeout_ms=6000)
        seq_bps, seq_iops = out.report["sequential"]
        rand_bps, rand_iops = out.report["random"]
        self.assertLessEqual(seq_bps, limits["ioReadBps"] * self.TOLERANCE, out.report)
        self.assertLessEqual(rand_iops, limits["ioReadIops"] * self.TOLERANCE, out.report)

    @staticmethod
    def flushes_of_disk_behind(path):
        """Cache flushes the host's disk holding `path` has completed
        (/sys/block/<disk>/stat, field 15), or None where it does not say."""
        st = os.stat(path)
        real = os.path.realpath(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
        if os.path.exists(os.path.join(real, "partition")):
            real = os.path.dirname(real)
        fields = (read(os.path.join(real, "stat")) or "").split()
        return int(fields[14]) if len(fields) >= 17 else None

    def test_fsync_loop(self):
        """Judged on the host: the cache flushes its disk completed while the
        run called fsync on read-only files as fast as it could (each one a
        flush, 9-10k a second, before flushes were made no-ops)."""
        limits = self.limits()
        before = self.flushes_of_disk_behind("/usr")
        if before is None:
            self.skipTest("the disk behind /usr does not count its flushes (no /sys/block/<disk>/stat field 15)")
        # Whether an fsync here reaches the disk as a flush at all: 50 from
        # the host itself. Where they do not (no volatile write cache), no run
        # can flush it either, and this check could not fail.
        fd = os.open("/usr/lib", os.O_RDONLY)
        try:
            for _ in range(50):
                os.fsync(fd)
        finally:
            os.close(fd)
        calibration = self.flushes_of_disk_behind("/usr") - before
        if calibration < 25:
            self.skipTest(f"50 fsyncs on the host made {calibration} disk flushes: this disk does not flush "
                          "per fsync, so a run's fsyncs cannot reach it either")
        before = self.flushes_of_disk_behind("/usr")
        out = self.beside(r'''
import time
targets = ["/usr", "/usr/lib", "/usr/bin"] + ["/usr/lib/" + n for n in sorted(_os.listdir("/usr/lib"))[:40]]
fds = []
for p in targets:
    try:
        fds.append(_os.open(p, _os.O_RDONLY))
    except OSError:
        pass
n, t0 = 0, time.monotonic()
while time.monotonic() - t0 < 2:
    for fd in fds:
        try:
            _os.fsync(fd)
        except OSError:
            pass
        n += 1
report({"fsyncs per second": n / (time.monotonic() - t0)})
''', timeout_ms=6000)
        flushes = self.flushes_of_disk_behind("/usr") - before
        # Two seconds of the run at most its write IOPS, plus what the rest of
        # the host flushed meanwhile (a few a second on a quiet machine).
        self.assertLessEqual(flushes, 2 * limits["ioWriteIops"] * self.TOLERANCE + 500,
                             f"the host's disk flushed {flushes} times beside the run: {out.report}")


if __name__ == "__main__":
    from pyunit import main
    main("security-crossrun-host", globals())
