"""Shared helpers of the security suites (tests/security/test_*.py).

Each attack program reports what it observed as one JSON line on stdout,
prefixed with MARK, so that the test can tell "the attack was blocked" from
"the program failed for some other reason". The host-side checks (processes,
cgroups, mounts) are scoped to the Service's own pyexecd, because other
pyexecd instances may run on the same machine at the same time."""
import json
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from procfs import all_pids, is_sandbox_init, is_waiting_for_input, same_pid_namespace  # noqa: E402
from procfs import read as _read, status_field as _status_field  # noqa: E402
from service import Service  # noqa: E402,F401
import cgroups  # noqa: E402
from timescale import budget_ms, scaled  # noqa: E402

MARK = "@@ATTACK@@"
SECRET = "s3cr3t-do-not-leak"  # PYEXEC_TEST_SECRET in pyexecd's environment (tests/lib/service.py)

# Python source prepended to attack programs: report(dict) prints the result
# line; sc(nr, *args) calls syscall(2) through ctypes and returns (ret, errno).
PRELUDE = r'''
import ctypes as _ct, json as _json, os as _os, sys as _sys
_libc = _ct.CDLL(None, use_errno=True)
_libc.syscall.restype = _ct.c_long
def sc(nr, *args):
    _ct.set_errno(0)
    r = _libc.syscall(_ct.c_long(nr), *[_ct.c_long(a) for a in args])
    return [int(r), _ct.get_errno()]
def report(obj):
    _sys.stdout.write("\n" + MARK + _json.dumps(obj) + "\n")
    _sys.stdout.flush()
'''.replace("MARK", repr(MARK))


def unique(prefix="pyexec-attack"):
    return f"{prefix}-{secrets.token_hex(8)}"


def reported(testcase, result):
    """The JSON the attack program reported (the last MARK line of stdout)."""
    lines = [ln for ln in result["stdout"].splitlines() if ln.startswith(MARK)]
    testcase.assertTrue(lines, f"the attack program reported nothing: status={result['status']} "
                               f"error={result['error']!r} stderr={result['stderr'][-2000:]!r}")
    return json.loads(lines[-1][len(MARK):])


# PYEXEC_TEST_AS_PYTEST=1 (run_all.sh): every attack request also carries a
# pytest test, so that warm, attacks of the standard library fork the pytest
# image (each worker starts it at its first one) and then run pytest.
AS_PYTEST = bool(os.environ.get("PYEXEC_TEST_AS_PYTEST"))
AFTER_THE_ATTACK = {"type": "pytest", "code": "def test_after_the_attack():\n    pass\n"}


def as_pytest(fields):
    """fields with the pytest test added under PYEXEC_TEST_AS_PYTEST."""
    if AS_PYTEST and "tests" not in fields:
        return dict(fields, tests=[AFTER_THE_ATTACK])
    return fields


def attack(testcase, svc, code, timeout_ms=5000, expect_status="ok", **fields):
    """Runs PRELUDE + code and returns (response, reported JSON). Unless the
    run is expected to time out, timeout_ms is a budget (budget_ms)."""
    if expect_status != "timeout":
        timeout_ms = budget_ms(timeout_ms)
    status, r = svc.run(PRELUDE + code, timeoutMs=timeout_ms, **as_pytest(fields))
    testcase.assertEqual(status, 200, r)
    if expect_status is not None:
        testcase.assertEqual(r["status"], expect_status,
                             f"error={r['error']!r} stderr={r['stderr'][-3000:]!r} stdout={r['stdout'][-1000:]!r}")
    return r, reported(testcase, r)


# ---------------------------------------------------------------- host side


def descendants(root):
    """Every live process below `root` (host pids)."""
    children = {}
    for pid in all_pids():
        ppid = _status_field(pid, "PPid")
        if ppid:
            children.setdefault(int(ppid[0]), []).append(pid)
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def sandbox_ids(svc):
    """(uids, gids), the ranges sandboxes run under, as /health says: one per
    worker slot (`uidRange`, `gidRange`: [first, last]), or one `uid` and
    `gid` for every run."""
    if getattr(svc, "sandbox_ids", None) is None:
        _, _, data = svc.request("GET", "/health", timeout=30)  # also when unhealthy (503)
        sandbox = json.loads(data)["sandbox"]

        def ids(span, one):
            first, last = sandbox[span] if span in sandbox else (sandbox[one], sandbox[one])
            return range(first, last + 1)
        svc.sandbox_ids = (ids("uidRange", "uid"), ids("gidRange", "gid"))
    return svc.sandbox_ids


def sandbox_processes(svc):
    """Processes below our pyexecd that run as a sandbox uid."""
    uids = sandbox_ids(svc)[0]
    out = []
    for pid in descendants(svc.pyexecd.pid):
        uid = _status_field(pid, "Uid")
        if uid and int(uid[0]) in uids:
            out.append(pid)
    return out


def processes_with(marker):
    """Host pids whose command line contains `marker` (any owner)."""
    found = []
    needle = marker.encode()
    for pid in all_pids():
        if pid == os.getpid():
            continue
        cmd = _read(f"/proc/{pid}/cmdline", "rb")
        if cmd and needle in cmd:
            found.append((pid, cmd.replace(b"\0", b" ").decode("utf-8", "replace")))
    return found


def run_cgroups(svc):
    """run-* cgroup folders of our pyexecd, found through the backend it uses
    (v2: one folder per run; v1: one per run in each hierarchy)."""
    return cgroups.run_cgroups(svc)


def cgroup_pids(dirs):
    """Host pids in a run cgroup (the union over its v1 hierarchies)."""
    return cgroups.pids_in(dirs)


PREPARED_PER_WORKER = 3  # --images split: lean, full, and one for pytest exercises (pytest image or full)


def describe(pids):
    """Each pid's name, state, scheduling policy and current syscall, for a
    failure message: what a leftover was doing."""
    out = []
    for pid in sorted(pids):
        stat = (_read(f"/proc/{pid}/stat") or "").rsplit(")", 1)
        name = (_read(f"/proc/{pid}/comm") or "?").strip()
        fields = stat[1].split() if len(stat) == 2 else []
        state = fields[0] if fields else "?"
        policy = fields[38] if len(fields) > 38 else "?"
        syscall = ((_read(f"/proc/{pid}/syscall") or "?").split() or ["?"])[0]
        out.append(f"{pid} {name} state {state} policy {policy} syscall {syscall}")
    return "; ".join(out)


def leftovers(svc):
    """What outlived its run, as a list of descriptions (empty: nothing).

    pyexecd keeps a prepared sandbox per worker and warm image (lean and
    full), and one for pytest exercises (at most PREPARED_PER_WORKER), for
    the next request, set up after the worker's last run of their kind:
    they are its newest run cgroups once its runs are over. One counts as
    prepared only when its run cgroup holds exactly two processes in one pid
    namespace, its init (pid 1 there) and the program, and the program is
    blocked reading its harness input (fd 3). Anything else below pyexecd
    that runs as a sandbox uid, and any other run cgroup, is a leftover."""
    found = []
    newest = {}
    for d in run_cgroups(svc):
        name = os.path.basename(d)
        worker, _, n = name[len("run-"):].partition("-")
        newest.setdefault(worker, {}).setdefault(int(n) if n.isdigit() else -1, []).append(d)
    allowed = set()
    for worker, runs in newest.items():
        last = sorted(runs)[-PREPARED_PER_WORKER:]
        for n, dirs in runs.items():
            pids = cgroup_pids(dirs)
            program = [p for p in pids if is_waiting_for_input(p)]
            init = [p for p in pids if p not in program]
            pristine = (n in last and len(program) == 1 and len(init) == 1 and
                        is_sandbox_init(init[0]) and same_pid_namespace(init[0], program[0]))
            if pristine:
                allowed |= pids
            else:
                found.append(f"run cgroup run-{worker}-{n} with {len(pids)} processes "
                             f"({'newest' if n in last else 'not the newest'}: {describe(pids)})")
    stray = [p for p in sandbox_processes(svc) if p not in allowed]
    if stray:
        found.append(f"sandbox processes outside a prepared sandbox: {stray}")
    return found


def mount_points():
    """The host's mount table as a set of (mount point, fs type, source)."""
    out = set()
    for line in (_read("/proc/self/mountinfo") or "").splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        out.add((fields[4], rest[0] if rest else "", rest[1] if len(rest) > 1 else ""))
    return out


def state_files(svc):
    """Files in the Service's state folder, apart from logs and nginx's temp files."""
    out = set()
    for dirpath, dirnames, files in os.walk(svc.state):
        rel = os.path.relpath(dirpath, svc.state)
        if rel.startswith("nginx"):
            continue
        for name in files + dirnames:
            out.add(os.path.normpath(os.path.join(rel, name)))
    return out


def settled(fn, seconds=3.0, step=0.05):
    """fn()'s value once it is empty/false, or its last value after `seconds`."""
    deadline = time.time() + scaled(seconds)
    while True:
        value = fn()
        if not value or time.time() >= deadline:
            return value
        time.sleep(step)


class LeftoverChecks:
    """Mix-in for TestCase: nothing of any run outlives it (S5). What may
    remain is each worker's prepared sandbox for its next run, and only in
    its pristine state (see leftovers())."""

    svc = None

    # How long a run's teardown, and the next prepared sandbox's set-up (at
    # idle priority: on a busy machine a cold one's interpreter may start
    # late), may take to settle. A real leftover stays; a longer window
    # only makes a failure slower to report.
    def assertNothingLeft(self, mounts_before, seconds=10.0):
        svc = self.svc
        self.assertEqual(settled(lambda: leftovers(svc), seconds), [],
                         "processes or cgroups outlived their run")
        self.assertEqual(mount_points() - mounts_before, set(), "runs left mounts on the host")
        root = os.path.join(svc.state, "root")
        if os.path.isdir(root):
            self.assertEqual(os.listdir(root), [], "the sandbox root mount point is not empty on the host")
