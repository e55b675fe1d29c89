"""Security suite, part 5: runs cannot touch each other or the service (SPEC
§5 S6, S10; issue 8). Every attack runs beside a concurrent victim run and is
judged from outside (beside.py): the victim's answer, the victim's and the
service's processes as the host sees them, the prepared sandboxes, /health.
What an attacking program reports of itself is only a second opinion."""
import errno
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import beside  # noqa: E402
from beside import beside_a_victim, literals, program_of, watched_service  # noqa: E402
from procfs import read, same_pid_namespace, status_field, all_pids  # noqa: E402

MACHINE = os.uname().machine
SYSCALLS = {  # the raw syscalls the attacks make through ctypes
    "x86_64": {"clone": 56, "sched_setattr": 314, "ioprio_set": 251, "pidfd_open": 434, "pidfd_send_signal": 424},
    "aarch64": {"clone": 220, "sched_setattr": 274, "ioprio_set": 30, "pidfd_open": 434, "pidfd_send_signal": 424},
}.get(MACHINE, {})


def tearDownModule():
    beside.stop_watched_service()


class Crossrun(unittest.TestCase):
    def beside(self, code, reports=True, **kw):
        """The Outcome of code beside a victim; fails the case when anything
        crossed over, or when an attack that should live to report did not
        (it failed before it did what it means to: that would prove nothing)."""
        out = beside_a_victim(watched_service(), code, **kw)
        if out.problems:
            self.fail(out.describe())
        if reports and out.report is None:
            self.fail("the attack did not get to its end: " + out.describe())
        if os.environ.get("PYEXEC_TEST_VERBOSE"):
            print(f"\n    {self.id()}: {json.dumps(out.report)[:300]}")
        return out


class Signals(Crossrun):
    """kill(0)/killpg reach the caller's process group, which must be the
    run's own; kill(-1) every process the caller may signal."""

    def test_kill_0_sigkill(self):
        self.beside("import signal\n_os.kill(0, signal.SIGKILL)\n", reports=False)

    def test_kill_0_sigstop(self):
        self.beside("import signal\n_os.kill(0, signal.SIGSTOP)\nreport({'stopped': 'and continued'})\n",
                    timeout_ms=1500, reports=False)

    def test_killpg_own_group_sigterm(self):
        self.beside("import signal\n_os.killpg(_os.getpgrp(), signal.SIGTERM)\nreport({'pgrp': _os.getpgrp()})\n",
                    reports=False)

    def test_kill_minus_one_every_signal(self):
        self.beside(r'''
import signal
sent = {}
for sig in [signal.SIGSTOP, signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGUSR1, signal.SIGKILL]:
    try:
        _os.kill(-1, sig)
        sent[sig.name] = "sent"
    except OSError as e:
        sent[sig.name] = e.errno
report(sent)
''')


class OrphanedProcessGroups(Crossrun):
    """A process group that becomes orphaned with a stopped member gets
    SIGHUP and SIGCONT from the kernel: it must be the run's own group."""

    def test_middle_process_leaves_the_group(self):
        # program -> middle -> child; the child stops, the middle moves to a
        # new group and exits: the program's group is orphaned, stopped child and all.
        self.beside(r'''
import signal, time
caught = []
signal.signal(signal.SIGHUP, lambda n, f: caught.append("SIGHUP"))
signal.signal(signal.SIGCONT, lambda n, f: caught.append("SIGCONT"))
middle = _os.fork()
if middle == 0:
    child = _os.fork()
    if child == 0:
        _os.kill(_os.getpid(), signal.SIGSTOP)
        _os._exit(0)
    _os.waitpid(child, _os.WUNTRACED)
    try:
        _os.setpgid(0, 0)
    except OSError:
        pass
    _os._exit(0)
_os.waitpid(middle, 0)
time.sleep(0.5)
report({"caught": caught})
''')

    def test_program_leaves_the_group(self):
        # The program itself is the middle process: its child stops, it
        # moves to a new group and exits, orphaning the group it started in.
        self.beside(r'''
import signal
child = _os.fork()
if child == 0:
    _os.kill(_os.getpid(), signal.SIGSTOP)
    _os._exit(0)
_os.waitpid(child, _os.WUNTRACED)
try:
    _os.setpgid(0, 0)
    moved = "moved"
except OSError as e:
    moved = e.errno
report({"setpgid": moved})
_os._exit(0)
''')


class Priorities(Crossrun):
    """Priority changes stay inside the run (S10)."""

    def test_autogroup_nice(self):
        self.beside(r'''
try:
    with open("/proc/self/autogroup", "w") as f:
        f.write("19")
    wrote = open("/proc/self/autogroup").read().strip()
except OSError as e:
    wrote = e.errno
report({"autogroup": wrote})
''')

    def test_setpriority_process_group(self):
        self.beside(r'''
try:
    _os.setpriority(_os.PRIO_PGRP, 0, 19)
    got = _os.getpriority(_os.PRIO_PGRP, 0)
except OSError as e:
    got = e.errno
report({"pgrp": got})
''')

    def test_setpriority_user(self):
        self.beside(r'''
me = _os.getuid()
got = {}
for uid in sorted({me, 1000, 60000, *range(max(0, me - 8), me + 9), *range(60000, 60017)}):
    try:
        _os.setpriority(_os.PRIO_USER, uid, 19)
        got[uid] = "set"
    except OSError as e:
        got[uid] = e.errno
report(got)
''')

    def test_sched_setscheduler_and_setattr(self):
        self.beside(literals(SCHED_SETATTR=SYSCALLS.get("sched_setattr", -1)) + r'''
import struct
got = {}
for pid in range(0, 64):
    try:
        _os.sched_setscheduler(pid, _os.SCHED_IDLE, _os.sched_param(0))
        got["setscheduler %d" % pid] = "set"
    except OSError as e:
        got["setscheduler %d" % pid] = e.errno
# struct sched_attr: size, policy, flags, nice, priority, runtime, deadline, period
attr = _ct.create_string_buffer(struct.pack("IIQiIQQQ", 48, 3, 0, 19, 0, 0, 0, 0), 48)  # SCHED_BATCH, nice 19
for pid in (0, 1, 2, 3):
    got["setattr %d" % pid] = sc(SCHED_SETATTR, pid, _ct.addressof(attr), 0)
report(got)
''')

    def test_ioprio_set_group_and_user(self):
        self.beside(literals(IOPRIO_SET=SYSCALLS.get("ioprio_set", -1)) + r'''
IDLE = 3 << 13  # IOPRIO_CLASS_IDLE
got = {
    "pgrp": sc(IOPRIO_SET, 2, 0, IDLE),  # IOPRIO_WHO_PGRP, the caller's group
    "user": sc(IOPRIO_SET, 3, _os.getuid(), IDLE),  # IOPRIO_WHO_USER
    "user 1000": sc(IOPRIO_SET, 3, 1000, IDLE),
    "init": sc(IOPRIO_SET, 1, 1, IDLE),
}
report(got)
''')


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


class ProcessTree(Crossrun):
    """Ways to reach a process outside the run: a parent's children, pidfds,
    SIGIO owners, leases, parent-death signals."""

    def test_clone_parent_is_denied(self):
        """A child made with CLONE_PARENT would be the zygote's (warm) or the
        init's (cold). Judged on the host: the program's parent has no other
        child in the run's pid namespace; and the clone fails with EPERM."""
        def parents_other_children(pids):
            program = program_of(pids)
            parent = int((status_field(program, "PPid") or ["0"])[0]) if program else 0
            return [p for p in all_pids() if p != program and same_pid_namespace(p, program)
                    and (status_field(p, "PPid") or ["0"])[0] == str(parent)]
        out = self.beside(literals(CLONE=SYSCALLS.get("clone", -1)) + r'''
import signal, time
got = sc(CLONE, 0x8000 | signal.SIGCHLD, 0, 0, 0, 0)  # CLONE_PARENT
if got[0] == 0:
    time.sleep(HOLD_S + 1)
    _os._exit(0)
held()
time.sleep(HOLD_S)
report({"clone": got})
''', while_held=parents_other_children)
        self.assertEqual(out.held, [], "a CLONE_PARENT child was made beside the program, outside the run")
        self.assertEqual(out.report, {"clone": [-1, errno.EPERM]}, out.describe())

    def test_program_stopped_and_continued_by_its_child(self):
        """Its parent (the zygote, or the init) hears of every stop and
        continue; it must keep serving the other runs."""
        self.beside(r'''
import signal, time
signal.signal(signal.SIGCONT, lambda n, f: None)
me = _os.getpid()
child = _os.fork()
if child == 0:
    for _ in range(200):
        _os.kill(me, signal.SIGSTOP)
        time.sleep(0.002)
        _os.kill(me, signal.SIGCONT)
    _os._exit(0)
_os.waitpid(child, 0)
report({"toggled": 200})
''')

    def test_pidfd_signals(self):
        self.beside(literals(PIDFD_OPEN=SYSCALLS.get("pidfd_open", -1),
                             PIDFD_SEND=SYSCALLS.get("pidfd_send_signal", -1)) + r'''
import signal
me, got = _os.getpid(), {}
for pid in [1, 2, 3, 4, 5, 10, 100, 300, 1000, 4096, 32768]:
    if pid == me:
        continue
    fd, err = sc(PIDFD_OPEN, pid, 0)
    got["open %d" % pid] = err if fd < 0 else sc(PIDFD_SEND, fd, signal.SIGKILL, 0, 0)
try:
    fd = _os.open("/proc/1", _os.O_RDONLY | _os.O_DIRECTORY)  # a /proc/<pid> folder is a pidfd too
    got["proc 1"] = sc(PIDFD_SEND, fd, signal.SIGKILL, 0, 0)
except OSError as e:
    got["proc 1"] = e.errno
report(got)
''')

    def test_sigio_owner_elsewhere(self):
        self.beside(r'''
import fcntl, signal
F_SETSIG = 10
me, my_group = _os.getpid(), _os.getpgrp()
r, w = _os.pipe()
fcntl.fcntl(r, fcntl.F_SETFL, _os.O_NONBLOCK | _os.O_ASYNC)
fcntl.fcntl(r, F_SETSIG, signal.SIGKILL)
accepted = []
for k in range(1, 4097):
    for owner in (k, -k):  # a process, a process group
        if owner in (me, -me, -my_group):
            continue  # the run's own: signalling them proves nothing
        try:
            fcntl.fcntl(r, fcntl.F_SETOWN, owner)
        except OSError:
            continue
        accepted.append(owner)
        _os.write(w, b"x")
        _os.read(r, 1)
report({"owners accepted": accepted})
''', timeout_ms=5000)

    def test_leases_and_locks_on_shared_files(self):
        self.beside(r'''
import fcntl, time
F_SETLEASE = 1024
got = {}
for path in ("/usr/bin/python3", "/usr/lib/python3.11/os.py", "/etc/ld.so.cache", "/etc/nsswitch.conf"):
    try:
        fd = _os.open(path, _os.O_RDONLY)
    except OSError as e:
        got[path] = e.errno
        continue
    try:
        fcntl.fcntl(fd, F_SETLEASE, fcntl.F_RDLCK)
        got[path] = "leased"
    except OSError as e:
        got[path] = e.errno
held()
time.sleep(1)
report(got)
''')

    def test_parent_death_signal_tricks(self):
        self.beside(r'''
import signal
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_PTRACER = 1, 36, 0x59616d61
got = {}
for name, args in [("pdeathsig", (PR_SET_PDEATHSIG, signal.SIGKILL)), ("subreaper", (PR_SET_CHILD_SUBREAPER, 1)),
                   ("ptracer any", (PR_SET_PTRACER, -1))]:
    _ct.set_errno(0)
    rc = _libc.prctl(*[_ct.c_long(a) for a in args], _ct.c_long(0), _ct.c_long(0), _ct.c_long(0))
    got[name] = [rc, _ct.get_errno()]
child = _os.fork()
if child == 0:  # a child that dies with its parent, whose parent exits at once
    _libc.prctl(_ct.c_long(PR_SET_PDEATHSIG), _ct.c_long(signal.SIGHUP), _ct.c_long(0), _ct.c_long(0), _ct.c_long(0))
    _os._exit(0)
_os.waitpid(child, 0)
report(got)
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

    def test_fsync_loop(self):
        limits = self.limits()
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
        self.assertLessEqual(out.report["fsyncs per second"], limits["ioWriteIops"] * self.TOLERANCE, out.report)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    from pyunit import main
    main("security-crossrun", globals())
