"""Attacks judged from outside, beside a concurrent victim run (SPEC §5, S6
and S10).

beside_a_victim(watched, attack_code) sends an attack while another request,
the victim, is in flight on another worker, and lists what crossed over as
the host sees it:
- the victim's answer: status ok and exactly the stdout a victim alone gets
  (the signals it caught, its priority, and whether the per-user kernel
  quotas still serve it: a 1 MiB pipe, fd passing, inotify, a message queue,
  queued real-time signals);
- the victim's process, read on the host before and after the attack:
  running, with the same nice, policy, I/O priority and autogroup;
- the service's processes (master, workers, zygotes, nginx): the same pids,
  none stopped, with the same nice, policy, I/O priority, autogroup line,
  session and process group;
- the prepared sandboxes: workers + 1 innocent requests at once right
  after, in each warm image, each answered as it is on a fresh service;
- /health: 200 and "healthy" within a generous bound.
What the attacking program says of itself is returned for the test to read
(held(), HOLD_S and report() are in its prelude); it is never the verdict.

The service runs in a session of its own (Service(own_session=True)), as
under systemd or as a container's entrypoint: its process group can be
orphaned as in production, and neither that group's SIGHUP nor the session's
autogroup reaches the test runner. A case that reaches the service marks it
broken; the next case gets a fresh one (watched_service())."""
import concurrent.futures
import json
import os
import signal
import time
import unittest

import attack
from attack import PRELUDE, Service, all_pids, descendants, is_sandbox_init, sandbox_processes, unique
from procfs import comm, read, scheduling, stat_fields, status_field

WORKERS = 3  # the victim's, the attacker's, and an idle one whose prepared sandbox waits
VICTIM_TIMEOUT_MS = 10000
VICTIM_WAIT_S = 8  # how long the victim waits to be released before it goes on
HTTP_SLACK_S = 10  # beyond a run's own limit, for nginx and the service's teardown
HEALTH_BOUND_S = 15  # generous: a healthy /health answers in well under a second
HOLD_S = 2.5  # how long an attack that holds a resource keeps it
SYSCALLS = {  # the raw syscalls attacks make through ctypes
    "x86_64": {"clone": 56, "sched_setattr": 314, "ioprio_set": 251, "pidfd_open": 434, "pidfd_send_signal": 424},
    "aarch64": {"clone": 220, "sched_setattr": 274, "ioprio_set": 30, "pidfd_open": 434, "pidfd_send_signal": 424},
}.get(os.uname().machine, {})


def literals(**values):
    return "".join(f"{k} = {v!r}\n" for k, v in values.items())


# The victim: catches every signal it can, is released by the test (a file
# the test creates in its /tmp from the host), then checks that the per-user
# kernel quotas still serve it and prints what it saw.
VICTIM = r'''
import ctypes, errno, fcntl, os, signal, socket, time
caught = []
for s in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE,
          signal.SIGALRM, signal.SIGTERM, signal.SIGCONT, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU,
          signal.SIGURG, signal.SIGWINCH, signal.SIGIO):
    signal.signal(s, lambda n, f: caught.append(signal.Signals(n).name))
open("/tmp/" + READY, "w").close()
deadline = time.monotonic() + WAIT_S
while not os.path.exists("/tmp/" + GO) and time.monotonic() < deadline:
    time.sleep(0.005)
print("released", os.path.exists("/tmp/" + GO))
libc = ctypes.CDLL(None, use_errno=True)

def check(what, fn):
    try:
        print(what, fn())
    except OSError as e:
        print(what, errno.errorcode.get(e.errno, e.errno))

def c_call(fn, *args):
    ctypes.set_errno(0)
    r = fn(*args)
    if r == -1:
        raise OSError(ctypes.get_errno(), "")
    return r

def pipe_size(size=None):
    r, w = os.pipe()
    try:
        return fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, size) if size else fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)
    finally:
        os.close(r)
        os.close(w)

def pass_fd():
    a, b = socket.socketpair()
    with a, b:
        socket.send_fds(a, [b"x"], [a.fileno()])
        fds = socket.recv_fds(b, 1, 1)[1]
        for fd in fds:
            os.close(fd)
        return "ok" if len(fds) == 1 else fds

def inotify():
    os.close(c_call(libc.inotify_init1, os.O_CLOEXEC))
    return "ok"

class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]

def mqueue():
    name = b"/" + READY.encode()
    os.close(c_call(libc.mq_open, name, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600,
                    ctypes.byref(MqAttr(0, 1, 64, 0))))
    libc.mq_unlink(name)
    return "ok"

def queued_rt_signals():  # each is queued while the user's RLIMIT_SIGPENDING count allows
    sig = signal.SIGRTMIN + 1
    signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
    for _ in range(3):
        os.kill(os.getpid(), sig)
    n = 0
    while signal.sigtimedwait([sig], 0) is not None:
        n += 1
    return n

check("pipe", pipe_size)
check("pipe 1 MiB", lambda: pipe_size(1 << 20))
check("fd passing", pass_fd)
check("inotify", inotify)
check("mqueue", mqueue)
check("queued rt signals", queued_rt_signals)
print("priority", os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0))
print("caught", caught)
'''

# An innocent request: holds its worker a moment, so that workers + 1 of them
# at once reach every worker's prepared sandbox.
INNOCENT = r'''
import os, time
time.sleep(0.3)
print("innocent", os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0))
'''
# The same in the full warm image (numpy imported: image_choice.cc), so that
# each worker's prepared full sandbox, which waited beside a lean attack, is
# tried too; in cold mode, or with --images full, it is just another run.
INNOCENT_FULL = "import numpy  # noqa: F401\n" + INNOCENT


def _post(svc, code, timeout_ms):
    """(HTTP status, answer), or (None, why) when no answer came in time."""
    try:
        status, _, data = svc.request("POST", "/run", attack.as_pytest({"code": code, "timeoutMs": timeout_ms}),
                                      timeout=timeout_ms / 1000 + HTTP_SLACK_S)
        return status, json.loads(data) if data else None
    except (OSError, ValueError) as e:
        return None, f"no answer: {e!r}"


def _until(fn, seconds, step=0.03):
    """fn()'s first true value within `seconds`, else its last value."""
    deadline = time.time() + seconds
    while True:
        value = fn()
        if value or time.time() >= deadline:
            return value
        time.sleep(step)


def with_file(svc, name):
    """Sandbox processes (host pids) whose /tmp holds `name`."""
    return [p for p in sandbox_processes(svc) if os.path.exists(f"/proc/{p}/root/tmp/{name}")]


def program_of(pids):
    """The program among a sandbox's processes (not its pid 1), or None."""
    programs = sorted(p for p in pids if not is_sandbox_init(p))
    return programs[0] if programs else None


# ------------------------------------------------------- the service's processes


def service_processes(svc):
    """{pid: role} for the master, its workers, their zygotes, and nginx."""
    roles = {}
    if svc.pyexecd.poll() is None:
        roles[svc.pyexecd.pid] = "master"
    if svc.nginx is not None and svc.nginx.poll() is None:
        roles[svc.nginx.pid] = "nginx master"
    kids = {}
    for pid in all_pids():
        ppid = status_field(pid, "PPid")
        if ppid:
            kids.setdefault(int(ppid[0]), []).append(pid)
    for parent, role in list(roles.items()):
        for pid in kids.get(parent, []):
            if role == "master" and comm(pid) == "pyexecd":
                roles[pid] = "worker"
                roles.update({z: "zygote" for z in kids.get(pid, []) if comm(z) == "pyexec-zygote"})
            elif role == "nginx master" and comm(pid) == "nginx":
                roles[pid] = "nginx worker"
    return roles


def service_state(svc):
    """{pid: what the host sees of it} for every process of the service."""
    out = {}
    for pid, role in service_processes(svc).items():
        st, sched = stat_fields(pid), scheduling(pid)
        if st is None or sched is None:
            continue
        out[pid] = {"role": role, "stopped": sched.pop("state") in "tT", **sched,
                    "pgrp": int(st[5]), "session": int(st[6])}
    return out


def state_changes(before, after):
    """What differs between two service_state()s, in words."""
    out = []
    for pid, was in before.items():
        now = after.get(pid)
        if now is None:
            out.append(f"{was['role']} {pid} is gone")
            continue
        for key in was:
            if now[key] != was[key]:
                out.append(f"{was['role']} {pid}: {key} {was[key]!r} -> {now[key]!r}")
    out += [f"new {now['role']} {pid} (restarted?)" for pid, now in after.items() if pid not in before]
    out += [f"{now['role']} {pid} is stopped" for pid, now in after.items() if now["stopped"] and pid not in before]
    return out


def _process_changes(who, before, after):
    if after is None:
        return [f"{who} is gone"]
    changes = [f"{who}: {k} {before[k]!r} -> {after[k]!r}" for k in before if k != "state" and after[k] != before[k]]
    if after["state"] in "tT":
        changes.append(f"{who} is stopped")
    return changes


# --------------------------------------------------------------- the service


class Watched:
    """A Service for attacks, with what a victim and an innocent request
    print on it when nothing attacks."""

    def __init__(self, mode=None):
        base = str(unused_id_base())
        self.svc = Service(workers=WORKERS, own_session=True, mode=mode, extra_args=["--uid", base, "--gid", base])
        self.broken = False
        try:
            self.victim_alone = self._victim_alone()
            for code in (INNOCENT, INNOCENT_FULL):
                status, r = _post(self.svc, code, 5000)
                if status != 200 or r["status"] != "ok":
                    raise RuntimeError(f"an innocent run failed on a fresh service: {status} {r}")
                self.innocent_alone = r["stdout"]
        except Exception:
            self.stop()
            raise

    def _victim_alone(self):
        ready, go = unique("victim-ready"), unique("victim-go")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            fut = pool.submit(_post, self.svc, victim_code(ready, go), VICTIM_TIMEOUT_MS)
            pid = program_of(_until(lambda: with_file(self.svc, ready), 20))
            if pid is not None:
                release(pid, go)
            status, r = fut.result()
        if status != 200 or r["status"] != "ok" or not r["stdout"].startswith("released True\n"):
            raise RuntimeError(f"the victim alone failed: {status} {r}")
        return r["stdout"]

    def stop(self):
        """Stops the service, also when an attack stopped or killed part of
        it: every process of its own is continued first, and what outlives
        it (processes, cgroups) is removed, by pid."""
        svc = self.svc
        mine = [(p, (stat_fields(p) or {}).get(22)) for p in [svc.pyexecd.pid] + descendants(svc.pyexecd.pid)]
        for pid, _ in mine:
            _signal(pid, signal.SIGCONT)
        svc.stop()
        for pid, started in mine:  # the same process: its start time did not change
            if started is not None and (stat_fields(pid) or {}).get(22) == started:
                _signal(pid, signal.SIGKILL)
        _remove_cgroups(svc.pyexecd.pid)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _remove_cgroups(master):
    tag = f"pyexec-{master}"
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        if os.path.basename(dirpath) != tag:
            continue
        dirnames[:] = []
        for d, _, _ in sorted(os.walk(dirpath), key=lambda w: -w[0].count("/")):
            for pid in (read(os.path.join(d, "cgroup.procs")) or "").split():
                _signal(int(pid), signal.SIGKILL)
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def unused_id_base(span=64):
    """A uid and gid base no host user or group has, `span` ids long, for
    this service alone: per-user kernel quotas are host-wide, so a quota
    attack on a uid another pyexecd on this machine also uses (another
    session's tests) would reach that one's runs."""
    import grp
    import pwd
    import random
    while True:
        base = 100000 + random.randrange(60000) * span
        taken = set()
        for i in range(base, base + span):
            for lookup in (pwd.getpwuid, grp.getgrgid):
                try:
                    lookup(i)
                    taken.add(i)
                except KeyError:
                    pass
        if not taken:
            return base


_current = None


def watched_service():
    """The shared Watched service, a fresh one when a case broke the last."""
    global _current
    if _current is not None and _current.broken:
        _current.stop()
        _current = None
    if _current is None:
        _current = Watched()
    return _current


def stop_watched_service():
    global _current
    if _current is not None:
        _current.stop()
        _current = None


# ------------------------------------------------------------------ a case


def victim_code(ready, go):
    return literals(READY=ready, GO=go, WAIT_S=VICTIM_WAIT_S) + VICTIM


def release(pid, go):
    """Lets the victim go on: the host creates the file it waits for."""
    with open(f"/proc/{pid}/root/tmp/{go}", "w"):
        pass


class Outcome:
    def __init__(self):
        self.problems = []  # what crossed over, in words; empty: nothing
        self.attack = None  # (HTTP status, answer) of the attack
        self.report = None  # what the attacking program reported, if it did
        self.held = None  # what while_held() returned

    def describe(self):
        status, r = self.attack or (None, None)
        said = {k: r.get(k) for k in ("status", "error", "stderr")} if isinstance(r, dict) else r
        return "\n  ".join(["crossed over:"] + self.problems) + f"\nthe attack got {status} {said}, reported {self.report}"


def beside_a_victim(watched, attack_code, timeout_ms=3000, while_held=None):
    """Runs PRELUDE + attack_code while a victim run is in flight and returns
    an Outcome. The victim is released once the attack has answered or has
    called held(); while_held(attacker's sandbox pids), if given, runs on the
    host while the attack holds. The service is marked broken (the next case
    gets a fresh one) when the attack reached it; a victim's answer alone
    says nothing lasting."""
    svc, out = watched.svc, Outcome()
    before = service_state(svc)
    ready, go, held = unique("victim-ready"), unique("victim-go"), unique("attack-held")
    prelude = PRELUDE + literals(HELD=held, HOLD_S=HOLD_S) + "def held():\n    open('/tmp/' + HELD, 'w').close()\n"
    pool = concurrent.futures.ThreadPoolExecutor(2)
    try:
        victim = pool.submit(_post, svc, victim_code(ready, go), VICTIM_TIMEOUT_MS)
        vpid = program_of(_until(lambda: with_file(svc, ready), 20))
        if vpid is None:
            out.problems.append("the victim did not start")
        v_before = scheduling(vpid) if vpid else None
        attack_run = pool.submit(_post, svc, prelude + attack_code, timeout_ms)
        holding = _until(lambda: with_file(svc, held) or attack_run.done(), timeout_ms / 1000 + HTTP_SLACK_S)
        if isinstance(holding, list) and while_held is not None:
            out.held = while_held(holding)
        if vpid is not None:
            out.problems += _process_changes(f"the victim (pid {vpid})", v_before, scheduling(vpid))
            try:
                release(vpid, go)
            except OSError as e:
                out.problems.append(f"the victim could not be released: {e}")
        out.attack = _answer(attack_run, svc, timeout_ms / 1000 + HTTP_SLACK_S)
        status, r = _answer(victim, svc, VICTIM_TIMEOUT_MS / 1000 + HTTP_SLACK_S)
    finally:
        pool.shutdown(wait=False)  # a request to a stopped service ends with the service
    if status != 200 or not isinstance(r, dict) or r.get("status") != "ok":
        said = {k: r.get(k) for k in ("status", "error", "stdout")} if isinstance(r, dict) else r
        out.problems.append(f"the victim's answer: {status} {said}")
    elif r["stdout"] != watched.victim_alone:
        out.problems.append(f"the victim printed {r['stdout']!r}, alone it prints {watched.victim_alone!r}")
    _read_report(out)
    reached = _service_verdict(watched, before)
    out.problems += reached
    watched.broken = watched.broken or bool(reached)
    return out


def _answer(future, svc, seconds):
    """The future's (status, answer) within `seconds`; sooner (None, why)
    when part of the service stays stopped: no answer will come."""
    deadline, stopped_since = time.time() + seconds, None
    while not future.done() and time.time() < deadline:
        stopped = svc.pyexecd.poll() is None and any(p["stopped"] for p in service_state(svc).values())
        stopped_since = (stopped_since or time.time()) if stopped else None
        if stopped_since and time.time() - stopped_since > 1:
            return None, "no answer: part of the service is stopped"
        time.sleep(0.1)
    return future.result() if future.done() else (None, f"no answer within {seconds} s")


def _read_report(out):
    _, r = out.attack
    if isinstance(r, dict):
        lines = [ln for ln in (r.get("stdout") or "").splitlines() if ln.startswith(attack.MARK)]
        if lines:
            out.report = json.loads(lines[-1][len(attack.MARK):])


def _service_verdict(watched, before):
    """What differs in the service after the attack: its processes, its
    prepared sandboxes (innocent requests), /health."""
    svc = watched.svc
    now = service_state(svc)
    problems = []
    if svc.pyexecd.poll() is not None or any(p["stopped"] for p in now.values()):
        problems.append("no innocent request tried: the service is gone or stopped")
    else:
        with concurrent.futures.ThreadPoolExecutor(WORKERS + 1) as pool:
            answers = list(pool.map(lambda code: _post(svc, code, 5000),
                                    [INNOCENT] * (WORKERS + 1) + [INNOCENT_FULL] * (WORKERS + 1)))
        for status, r in answers:
            if status != 200 or not isinstance(r, dict) or r.get("status") != "ok" \
                    or r.get("stdout") != watched.innocent_alone:
                said = {k: r.get(k) for k in ("status", "error", "stdout")} if isinstance(r, dict) else r
                problems.append(f"an innocent request got {status} {said}, expected {watched.innocent_alone!r}")
        problems += _health(svc)
    return state_changes(before, service_state(svc)) + problems


def _health(svc):
    try:
        status, _, data = svc.request("GET", "/health", timeout=HEALTH_BOUND_S)
    except OSError as e:
        return [f"/health gave no answer within {HEALTH_BOUND_S} s: {e!r}"]
    body = json.loads(data) if data else {}
    if status != 200 or body.get("status") != "healthy":
        return [f"/health answered {status} {body.get('status')} {body.get('checks')}"]
    return []


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
