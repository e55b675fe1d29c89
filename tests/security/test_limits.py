"""Security suite, part 2: S4 (resource limits) and S5 (nothing outlives its
run), and a chaos test that sends several attacks at once."""
import concurrent.futures
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack  # noqa: E402
from attack import LeftoverChecks, Service, attack as run_attack  # noqa: E402
from timescale import budget_ms, scaled  # noqa: E402

svc = None
MOUNTS_BEFORE = None
STATE_BEFORE = None


def setUpModule():
    global svc, MOUNTS_BEFORE, STATE_BEFORE
    MOUNTS_BEFORE = attack.mount_points()
    svc = Service(workers=4)
    STATE_BEFORE = attack.state_files(svc)


def tearDownModule():
    svc.stop()


def literals(**values):
    return "".join(f"{k} = {v!r}\n" for k, v in values.items())


class Base(LeftoverChecks, unittest.TestCase):
    svc = property(lambda self: svc)

    def assertServiceAnswers(self):
        status, r = svc.run("print(6 * 7)", [{"type": "output", "expected": "42"}])
        self.assertEqual((status, r["status"], r["stdout"], r["allPassed"]), (200, "ok", "42\n", True), r)

    def run_plain(self, code, timeout_ms, **fields):
        status, r = svc.run(code, timeoutMs=timeout_ms, **fields)
        self.assertEqual(status, 200, r)
        return r


# --------------------------------------------------------------------- S4

class S4Limits(Base):
    def test_fork_bomb(self):
        t = time.monotonic()
        r = self.run_plain("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", 1500)
        self.assertIn(r["status"], ("timeout", "error"), r["error"])
        self.assertLess(time.monotonic() - t, scaled(8), "the fork bomb was not stopped near its timeout")
        self.assertServiceAnswers()
        self.assertNothingLeft(MOUNTS_BEFORE)

    def test_pids_limit(self):
        code = r'''
import time
n, err = 0, None
while n < 500:
    try:
        pid = _os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        time.sleep(30)
        _os._exit(0)
    n += 1
import threading
threads, terr = 0, None
try:
    while threads < 500:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        threads += 1
except RuntimeError as e:
    terr = str(e)
report({"forks": n, "errno": err, "threads": threads, "thread_error": terr})
_os._exit(0)
'''
        r, d = run_attack(self, svc, code, timeout_ms=5000)
        self.assertEqual(d["errno"], 11, d)  # EAGAIN from pids.max
        self.assertLess(d["forks"] + d["threads"], 50, d)  # threads count against pids.max too
        self.assertNothingLeft(MOUNTS_BEFORE)

    def test_subprocess_bomb(self):
        code = ("import subprocess, sys\nwhile True:\n    try:\n"
                "        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                "    except OSError:\n        pass\n")
        r = self.run_plain(code, 1500)
        self.assertIn(r["status"], ("timeout", "error"), r["error"])
        self.assertServiceAnswers()
        self.assertNothingLeft(MOUNTS_BEFORE)

    def test_memory_bomb(self):
        code = ("size = 1 << 30\nb = bytearray(size)\nfor i in range(0, size, 4096):\n    b[i] = 1\n"
                "print('allocated 1 GiB')\n")
        r = self.run_plain(code, budget_ms(10000))
        self.assertEqual(r["status"], "memory_limit", r["error"])
        self.assertTrue(r["memoryExceeded"])
        self.assertEqual(r["stdout"], "")
        self.assertServiceAnswers()

    def test_memory_bomb_in_child(self):
        code = ("import os\npid = os.fork()\nif pid == 0:\n    b = b'x' * (1 << 30)\n    os._exit(0)\n"
                "os.waitpid(pid, 0)\nprint('parent done')\n")
        r = self.run_plain(code, budget_ms(10000))
        self.assertTrue(r["memoryExceeded"], r)
        self.assertEqual(r["status"], "memory_limit", r["error"])
        self.assertServiceAnswers()

    # The window is a wall-clock length: on a slower machine the fixed costs
    # in it (start, teardown, the quota's enforcement lag) grow with it.
    WINDOW_MS = round(scaled(2000))

    def test_cpu_spin_is_throttled(self):
        r = self.run_plain("while True:\n    pass\n", self.WINDOW_MS)
        self.assertEqual(r["status"], "timeout")
        self.assertTrue(r["timedOut"])
        ratio = r["cpuTimeMs"] / r["executionTimeMs"]
        self.assertGreater(ratio, 0.3, r)
        self.assertLess(ratio, 0.7, f"cpuTimeMs/executionTimeMs = {ratio:.2f}: the 0.5 CPU quota is not applied")

    def test_cpu_spin_in_many_processes_is_throttled(self):
        code = "import os\nfor _ in range(7):\n    if os.fork() == 0:\n        break\nwhile True:\n    pass\n"
        r = self.run_plain(code, self.WINDOW_MS)
        self.assertEqual(r["status"], "timeout")
        ratio = r["cpuTimeMs"] / r["executionTimeMs"]
        self.assertLess(ratio, 0.7, f"8 spinning processes got {ratio:.2f} CPUs (quota 0.5)")
        self.assertNothingLeft(MOUNTS_BEFORE)

    def test_sleep_times_out(self):
        t = time.monotonic()
        r = self.run_plain("import time\ntime.sleep(30)\nprint('woke up')\n", 500)
        self.assertEqual(r["status"], "timeout")
        self.assertEqual(r["stdout"], "")
        self.assertLess(r["executionTimeMs"], 500 + scaled(1000))  # the timeout plus a slack
        self.assertLess(time.monotonic() - t, scaled(5))

    def test_stopped_program_times_out(self):
        r = self.run_plain("import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\nprint('resumed')\n", 500)
        self.assertEqual(r["status"], "timeout", r)
        self.assertNothingLeft(MOUNTS_BEFORE)

    def flood(self, code):
        r = self.run_plain(code, budget_ms(5000))
        self.assertEqual(r["status"], "output_limit", r["error"])
        self.assertTrue(r["outputTruncated"])
        self.assertServiceAnswers()
        return r

    def test_stdout_flood(self):
        r = self.flood("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
        self.assertLessEqual(len(r["stdout"].encode()), 1 << 20)

    def test_stderr_flood(self):
        r = self.flood("import os\nwhile True:\n    os.write(2, b'e' * 65536)\n")
        self.assertLessEqual(len(r["stderr"].encode()), 1 << 20)

    def test_flood_from_orphaned_children(self):
        children = ("import os\nfor _ in range(4):\n    if os.fork() == 0:\n        os.setsid()\n"
                    "        while True:\n            os.write(1, b'y' * 65536)\n")
        self.flood(children + "import time\ntime.sleep(10)\n")
        self.assertNothingLeft(MOUNTS_BEFORE)
        # The program leaves at once: the run ends, its flooding children with it.
        r = self.run_plain(children, budget_ms(5000))
        self.assertIn(r["status"], ("ok", "output_limit"), r)
        self.assertLessEqual(len(r["stdout"].encode()), 1 << 20)
        self.assertNothingLeft(MOUNTS_BEFORE)

    def test_file_flood_in_tmp(self):
        code = r'''
n, err = 0, None
try:
    while n < 1000000:
        with open("/tmp/f%07d" % n, "w") as f:
            f.write("x")
        n += 1
except OSError as e:
    err = e.errno
report({"files": n, "errno": err})
'''
        r, d = run_attack(self, svc, code, timeout_ms=10000)
        self.assertEqual(d["errno"], 28, d)  # ENOSPC: the tmpfs is out of inodes (or of space)
        self.assertLess(d["files"], 1000000)
        self.assertServiceAnswers()
        status, r2 = svc.run("import os\nprint(len(os.listdir('/tmp')))")
        self.assertEqual(r2["stdout"], "0\n", "the next run's /tmp is not empty")

    def test_big_stdin_and_output_together(self):
        # A program that does not read its stdin while flooding: the worker must not deadlock.
        r = self.run_plain("import os\nwhile True:\n    os.write(1, b'z' * 65536)\n", budget_ms(5000), stdin="s" * (1 << 20))
        self.assertEqual(r["status"], "output_limit")
        self.assertServiceAnswers()


# --------------------------------------------------------------------- S5

class S5NothingOutlives(Base):
    def test_setsid_double_fork(self):
        marker = attack.unique("pyexec-orphan")
        code = literals(MARKER=marker) + r'''
import subprocess, time
pid = _os.fork()
if pid == 0:
    _os.setsid()
    if _os.fork() != 0:
        _os._exit(0)
    import signal
    for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(s, signal.SIG_IGN)
    _os.execv(_sys.executable, [_sys.executable, "-c",
              "import time\ntime.sleep(30)\nopen('/tmp/still-alive', 'w').write('x')\n# " + MARKER])
_os.waitpid(pid, 0)
alive = False
for _ in range(200):
    for p in [p for p in _os.listdir("/proc") if p.isdigit()]:
        try:
            if MARKER.encode() in open("/proc/%s/cmdline" % p, "rb").read():
                alive = True
        except OSError:
            pass
    if alive:
        break
    time.sleep(0.01)
report({"alive": alive})
'''
        r, d = run_attack(self, svc, code)
        self.assertTrue(d["alive"], "the grandchild did not start: the attack proves nothing")
        time.sleep(0.3)
        survivors = attack.settled(lambda: attack.processes_with(marker), 1.0)
        self.assertEqual(survivors, [], "a setsid, double-forked child outlived its run")
        self.assertNothingLeft(MOUNTS_BEFORE)

    def test_kill_all_from_inside(self):
        workers = set(svc.worker_pids())
        code = r'''
import signal
out = {}
try:
    _os.kill(-1, signal.SIGKILL)
    out["kill-1"] = "sent"
except OSError as e:
    out["kill-1"] = e.errno
hits = []
for pid in range(1, 4096):
    if pid == _os.getpid():
        continue
    try:
        _os.kill(pid, signal.SIGKILL)
        hits.append(pid)
    except OSError:
        pass
out["hits"] = hits
report(out)
'''
        r, d = run_attack(self, svc, code)
        self.assertEqual([p for p in d["hits"] if p != 1], [], d)  # only the namespace's own init is visible
        time.sleep(0.2)
        self.assertIsNone(svc.pyexecd.poll(), "pyexecd died")
        self.assertIsNone(svc.nginx.poll(), "nginx died")
        self.assertEqual(set(svc.worker_pids()), workers, "a worker was killed")
        for _ in range(4):
            self.assertServiceAnswers()
        status, _, data = svc.request("GET", "/health")
        self.assertEqual(status, 200, data)

    def test_no_leftovers_after_runs(self):
        for code in ("import os\nif os.fork() == 0:\n    os.setsid()\n    import time\n    time.sleep(30)\n",
                     "open('/tmp/x', 'w').write('x' * 1000)\n",
                     "import threading, time\nthreading.Thread(target=time.sleep, args=(30,)).start()\n"):
            r = self.run_plain(code, 1000)
            self.assertIn(r["status"], ("ok", "timeout"), r)
        self.assertNothingLeft(MOUNTS_BEFORE)
        self.assertEqual(attack.state_files(svc), STATE_BEFORE, "runs left files in pyexecd's state folder")


# ------------------------------------------------------------------ chaos

class Chaos(Base):
    def test_chaos(self):
        jobs = [
            ("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
             1500, ("timeout", "error")),
            ("memory bomb", "b = bytearray(1 << 30)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\n",
             budget_ms(10000), ("memory_limit",)),
            ("infinite loop", "while True:\n    pass\n", 1000, ("timeout",)),
            ("output flood", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", budget_ms(5000), ("output_limit",)),
            ("stderr flood", "import os\nwhile True:\n    os.write(2, b'x' * 65536)\n", budget_ms(5000), ("output_limit",)),
            ("file flood", "i = 0\nwhile True:\n    open('/tmp/%d' % i, 'w').close()\n    i += 1\n", budget_ms(5000), ("error",)),
        ]
        jobs += [(f"normal {i}", f"print({i} * 3)", budget_ms(5000), ("ok",)) for i in range(6)]

        def go(job):
            name, code, timeout_ms, statuses = job
            return job, svc.run(code, timeoutMs=timeout_ms)

        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(go, jobs))
        for (name, code, timeout_ms, statuses), (status, r) in results:
            self.assertEqual(status, 200, f"{name}: HTTP {status} {r}")
            self.assertIn(r["status"], statuses, f"{name}: {r['status']} {r['error']}")
            if name.startswith("normal"):
                i = int(name.split()[1])
                self.assertEqual(r["stdout"], f"{i * 3}\n")
            if name == "memory bomb":
                self.assertTrue(r["memoryExceeded"])
        status, _, data = svc.request("GET", "/health")
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["status"], "healthy")
        self.assertServiceAnswers()
        self.assertNothingLeft(MOUNTS_BEFORE)
        self.assertEqual(attack.state_files(svc), STATE_BEFORE)


if __name__ == "__main__":
    import pyunit
    pyunit.main("security-limits", globals())
