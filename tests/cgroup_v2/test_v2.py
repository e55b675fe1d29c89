"""cgroup v2 checks, run inside the guest of tests/cgroup_v2/run.sh (a kernel
booted with cgroup_no_v1=all), in both modes: the layout of src/sandbox/
cgroup.h on a real cgroup2 mount, each run's limits and accounting, every
sandbox process inside its run cgroup (the warm program moves itself in
through cgroup.procs), and the leftover helpers of tests/security seeing
prepared sandboxes without flagging them. Outside such a kernel every test
is a counted skip that says why."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "security"))
import attack  # noqa: E402
import cgroups  # noqa: E402
from procfs import read, status_field  # noqa: E402
from timescale import budget_ms, scaled  # noqa: E402

svc = None
MOUNTS_BEFORE = None
_OWN = (read("/proc/self/cgroup") or "").splitlines()
V2_ONLY = len(_OWN) == 1 and _OWN[0].startswith("0::")
WHY = "not a cgroup v2 only kernel (run by tests/cgroup_v2/run.sh in its guest)"
LIMITS = {"cpu.max": "50000 100000", "memory.max": str(256 << 20), "memory.swap.max": "0",
          "memory.oom.group": "1", "pids.max": "50"}


def setUpModule():
    global svc, MOUNTS_BEFORE
    if not V2_ONLY:
        return
    MOUNTS_BEFORE = attack.mount_points()
    svc = attack.Service(workers=2)


def tearDownModule():
    if svc:
        svc.stop()


def cgroup_path(pid):
    """The cgroup of pid, as a folder under /sys/fs/cgroup."""
    for ctrls, path in cgroups.own_cgroups(pid):
        if not ctrls:
            return os.path.normpath("/sys/fs/cgroup" + path)
    return None


def sleeper(seconds):
    """A run that sleeps in the background, and the run cgroup it is in once
    it holds the program (init, program and a child of it: three processes)."""
    import concurrent.futures
    pool = concurrent.futures.ThreadPoolExecutor(1)
    seconds = scaled(seconds)  # long enough to be seen, also where polling is slow
    code = ("import os, time\nif os.fork() == 0:\n    time.sleep(%f)\n    os._exit(0)\n"
            "print(open('/proc/self/cgroup').read().strip())\ntime.sleep(%f)\n" % (seconds, seconds))
    fut = pool.submit(svc.run, code, None, timeoutMs=budget_ms(10000))  # > 3 s scaled
    deadline = time.time() + scaled(10)
    while time.time() < deadline:
        busy = [d for d in cgroups.run_cgroups(svc) if len(cgroups.pids_in([d])) >= 3]
        if busy:
            return pool, fut, busy[0]
        time.sleep(0.05)
    pool.shutdown(wait=True)
    raise AssertionError("no run cgroup with the sleeping program appeared")


@unittest.skipUnless(V2_ONLY, WHY)
class Kernel(unittest.TestCase):
    def test_only_the_unified_hierarchy(self):
        self.assertIn("cgroup_no_v1=all", read("/proc/cmdline"))
        types = {line.split()[2] for line in read("/proc/mounts").splitlines()}
        self.assertIn("cgroup2", types)
        self.assertNotIn("cgroup", types)
        for c in ("cpu", "memory", "pids"):
            self.assertIn(c, read("/sys/fs/cgroup/cgroup.controllers").split())

    def test_health_says_v2(self):
        self.assertEqual(cgroups.backend(svc), "v2")


@unittest.skipUnless(V2_ONLY, WHY)
class Layout(unittest.TestCase):
    def test_pyexecd_subtree(self):
        own = cgroup_path(svc.pyexecd.pid)
        self.assertEqual(own, os.path.normpath("/sys/fs/cgroup" + svc.cgroup_at_start.strip()[3:]))
        self.assertEqual(os.path.basename(own), "daemon", "pyexecd did not move into P/daemon")
        parent = os.path.dirname(own)
        self.assertEqual(read(os.path.join(parent, "cgroup.procs")), "", "P still holds processes")
        runs = os.path.join(parent, "runs")
        self.assertEqual(cgroups.runs_roots(svc), [runs])
        for c in ("cpu", "memory", "pids"):
            self.assertIn(c, read(os.path.join(runs, "cgroup.subtree_control")).split())
        for w in svc.worker_pids():
            self.assertEqual(cgroup_path(w), own, f"worker {w} is not in P/daemon")

    def test_every_sandbox_process_is_in_a_run_cgroup(self):
        # Each worker's prepared sandbox: its init (born inside by clone3) and,
        # warm, the zygote's child that moved itself in through cgroup.procs.
        runs = cgroups.runs_roots(svc)[0]
        deadline = time.time() + scaled(10)
        while len(attack.sandbox_processes(svc)) < 2 and time.time() < deadline:
            time.sleep(0.1)
        procs = attack.sandbox_processes(svc)
        self.assertGreaterEqual(len(procs), 2, "no prepared sandbox below pyexecd")
        for pid in procs:
            where = cgroup_path(pid)
            if where is None:
                continue  # exited meanwhile
            self.assertEqual(os.path.dirname(where), runs, f"sandbox process {pid} is in {where}")
            self.assertTrue(os.path.basename(where).startswith("run-"), where)


@unittest.skipUnless(V2_ONLY, WHY)
class Runs(attack.LeftoverChecks, unittest.TestCase):
    svc = property(lambda self: svc)

    def test_limits_and_namespace_of_a_running_run(self):
        pool, fut, d = sleeper(3)
        try:
            for name, value in LIMITS.items():
                self.assertEqual(read(os.path.join(d, name)).strip(), value, name)
            uids = attack.sandbox_ids(svc)[0]
            pids = cgroups.pids_in([d])
            self.assertTrue(pids, "the running run's cgroup holds no process")
            for pid in pids:
                self.assertIn(int(status_field(pid, "Uid")[0]), uids)
        finally:
            status, r = fut.result(timeout=scaled(60))
            pool.shutdown()
        self.assertEqual((status, r["status"]), (200, "ok"), r)
        # A cgroup namespace rooted at the run cgroup: the program sees "/".
        self.assertEqual(r["stdout"].split("\n")[0], "0::/")
        # Removed after the answer is sent.
        self.assertFalse(attack.settled(lambda: os.path.exists(d)), "the run cgroup outlived its run")
        self.assertNothingLeft(MOUNTS_BEFORE)

    def test_usage_is_accounted(self):
        status, r = svc.run("b = bytearray(96 << 20)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\n"
                            "s = sum(range(2_000_000))\n", timeoutMs=budget_ms(10000))
        self.assertEqual((status, r["status"]), (200, "ok"), r)
        self.assertGreaterEqual(r["memoryPeakBytes"], 96 << 20)  # memory.peak
        self.assertGreater(r["cpuTimeMs"], 0)                    # cpu.stat usage_usec

    def test_memory_limit_kills_the_run(self):
        status, r = svc.run("b = bytearray(400 << 20)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\n",
                            timeoutMs=budget_ms(10000))
        self.assertEqual((status, r["status"], r["memoryExceeded"]), (200, "memory_limit", True), r)
        self.assertNothingLeft(MOUNTS_BEFORE)

    def test_pids_limit(self):
        status, r = svc.run("import os, signal\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                            "            signal.pause()\n        n += 1\nexcept OSError as e:\n"
                            "    print(n, e.errno)\n", timeoutMs=budget_ms(10000))
        self.assertEqual((status, r["status"]), (200, "ok"), r)
        n, err = map(int, r["stdout"].split())
        self.assertEqual(err, 11)  # EAGAIN: pids.max (50), counting the init and the program
        self.assertTrue(40 <= n < 50, n)
        self.assertNothingLeft(MOUNTS_BEFORE)


@unittest.skipUnless(V2_ONLY, WHY)
class Helpers(unittest.TestCase):
    def test_prepared_sandboxes_are_seen_not_flagged(self):
        attack.settled(lambda: attack.leftovers(svc), 5)
        runs = attack.run_cgroups(svc)
        self.assertTrue(runs, "the helpers found no run cgroup, not even the prepared ones")
        self.assertTrue(any(attack.cgroup_pids([d]) for d in runs), "no run cgroup holds a process")
        self.assertEqual(attack.settled(lambda: attack.leftovers(svc), 5), [])

    def test_a_stray_run_cgroup_is_flagged(self):
        stray = os.path.join(cgroups.runs_roots(svc)[0], "run-999999-1")
        os.mkdir(stray)
        try:
            found = attack.leftovers(svc)  # each description may go on to say what its processes do
            self.assertTrue(any(f.startswith("run cgroup run-999999-1 with 0 processes") for f in found), found)
        finally:
            os.rmdir(stray)


@unittest.skipUnless(V2_ONLY, WHY)
class Nested(unittest.TestCase):
    """Last: a second pyexecd started from the same cgroup (the test runner
    is in the first one's P/daemon now) nests below it and moves the first
    one deeper; both serve, and each removes its own subtree."""

    def test_second_service_nests_and_cleans_up(self):
        first_runs = cgroups.runs_roots(svc)[0]
        second = attack.Service(workers=1)
        try:
            runs = cgroups.runs_roots(second)[0]
            self.assertEqual(os.path.dirname(os.path.dirname(runs)), os.path.dirname(first_runs))
            for s in (svc, second):
                status, r = s.run("print(6 * 7)")
                self.assertEqual((status, r["stdout"]), (200, "42\n"), r)
        finally:
            second.stop()
        self.assertFalse(os.path.exists(runs), f"{runs} outlived its pyexecd")
        self.assertTrue(os.path.isdir(first_runs))


if __name__ == "__main__":
    import pyunit
    pyunit.main("cgroup-v2-checks", globals())
