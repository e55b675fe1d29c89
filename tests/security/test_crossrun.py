"""Security suite, part 5: runs cannot touch each other or the service
through signals, process groups, priorities or the process tree (SPEC §5 S6,
S10; issue 8). Every attack runs beside a concurrent victim run and is judged
from outside (beside.py): the victim's answer, the victim's and the service's
processes as the host sees them, the prepared sandboxes, /health. What an
attacking program reports of itself is only a second opinion. Part 6,
test_crossrun_host.py, has what runs share through the host: per-user kernel
quotas, the disk, the host's identity."""
import errno
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import beside  # noqa: E402
from beside import SYSCALLS, Crossrun, literals, program_of  # noqa: E402
from procfs import all_pids, read, same_pid_namespace, status_field  # noqa: E402
from service import MODE, PYEXECD  # noqa: E402


def tearDownModule():
    beside.stop_watched_service()


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


class CommandLine(unittest.TestCase):
    """`pyexecd run` is the service for one program: what the program does
    to its group or session stays in its sandbox there too. pyexecd leads a
    session of its own here, as in a container's entrypoint."""

    def run_one(self, code, while_running=None):
        """(exit code, stdout, what while_running(pid) returned); fails the
        case if the run leaves cgroups behind (they are removed anyway)."""
        base = str(beside.unused_id_base())
        with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
            f.write(code)
            f.flush()
            proc = subprocess.Popen([PYEXECD, "run", f.name, "--mode", MODE, "--uid", base, "--gid", base],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            seen = []
            if while_running:
                watcher = threading.Thread(target=lambda: seen.append(while_running(proc.pid)))
                watcher.start()
            try:
                out, err = proc.communicate(timeout=60)
            finally:
                if while_running:
                    watcher.join()
                left = [d for d, _, _ in os.walk("/sys/fs/cgroup") if os.path.basename(d) == f"pyexec-{proc.pid}"]
                beside._remove_cgroups(proc.pid)
        self.assertEqual(left, [], f"pyexecd run (exit {proc.returncode}) left its cgroups; stderr {err[-500:]!r}")
        return proc.returncode, out, seen[0] if seen else None

    def test_run_outlives_an_orphaned_group(self):
        code, out, _ = self.run_one('''
import os, signal
child = os.fork()
if child == 0:
    os.kill(os.getpid(), signal.SIGSTOP)
    os._exit(0)
os.waitpid(child, os.WUNTRACED)
try:
    os.setpgid(0, 0)
except OSError:
    pass
print("left the group")
''')
        self.assertEqual((code, out), (0, b"left the group\n"))

    def test_run_keeps_its_autogroup_nice(self):
        def autogroup_while_running(pid):  # until it exits (a warm start imports pandas first)
            lines, deadline = [], time.time() + 60
            while os.path.exists(f"/proc/{pid}") and time.time() < deadline and "nice 19" not in lines[-1:]:
                lines.append((read(f"/proc/{pid}/autogroup") or "").strip())
                time.sleep(0.03)
            return sorted(set(line for line in lines if line))
        code, out, seen = self.run_one('''
import time
try:
    open("/proc/self/autogroup", "w").write("19")
except OSError:
    pass
time.sleep(1.5)
print("done")
''', autogroup_while_running)
        self.assertEqual((code, out), (0, b"done\n"))
        self.assertTrue(seen and all(line.endswith(" nice 0") for line in seen),
                        f"pyexecd run's autogroup: {seen}")


if __name__ == "__main__":
    from pyunit import main
    main("security-crossrun", globals())
