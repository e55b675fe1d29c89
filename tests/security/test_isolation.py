"""Security suite, part 3: S6 (runs are isolated from each other), S7 (a
program cannot fake a test result) and S8 (planted symlinks redirect
nothing)."""
import concurrent.futures
import os
import time
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack  # noqa: E402
from attack import LeftoverChecks, Service, attack as run_attack  # noqa: E402
from timescale import budget_ms, scaled  # noqa: E402

svc = None
MOUNTS_BEFORE = None


def setUpModule():
    global svc, MOUNTS_BEFORE
    MOUNTS_BEFORE = attack.mount_points()
    svc = Service(workers=4)


def tearDownModule():
    svc.stop()


def literals(**values):
    return "".join(f"{k} = {v!r}\n" for k, v in values.items())


def served(testcase):
    status, r = svc.run("print('still fine')")
    testcase.assertEqual((status, r["status"], r["stdout"]), (200, "ok", "still fine\n"), r)


# --------------------------------------------------------------------- S6

# Scans the program's own readable memory for secrets without holding any of
# them whole: each needle is given as (all but its last byte, last byte).
MEMORY_SCAN = r'''
def scan_memory(needles):
    found = set()
    fd = _os.open("/proc/self/mem", _os.O_RDONLY)
    for line in open("/proc/self/maps").read().splitlines():
        f = line.split()
        if not f[1].startswith("r") or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]", "[vvar_vclock]")):
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        pos = lo
        while pos < hi:
            try:
                data = _os.pread(fd, min(hi - pos, 8 << 20), pos)
            except OSError:
                break
            if not data:
                break
            for name, (head, last) in needles.items():
                i = data.find(head)
                while i >= 0:
                    if data[i + len(head):i + len(head) + 1] == last:
                        found.add(name)
                    i = data.find(head, i + 1)
            pos += len(data) - 64 if len(data) > 64 else len(data)
    _os.close(fd)
    return sorted(found)
'''


def split_needle(secret):
    b = secret.encode()
    return [b[:-1], b[-1:]]


class S6Isolation(LeftoverChecks, unittest.TestCase):
    svc = property(lambda self: svc)

    def test_concurrent_runs_cannot_see_each_other(self):
        marker = attack.unique("pyexec-run-a")
        # A sleeps while B runs: a wall-clock window, longer on a slower machine.
        code_a = literals(MARKER=marker, SLEEP=scaled(4)) + r'''
import time
open("/tmp/" + MARKER, "w").write("secret of run A")
time.sleep(SLEEP)
report({"tmp": _os.listdir("/tmp")})
'''
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            fut_a = pool.submit(run_attack, self, svc, code_a, 8000)

            def a_ready():  # A's sandbox processes, once its file exists
                pids = attack.sandbox_processes(svc)
                return [p for p in pids if os.path.exists(f"/proc/{p}/root/tmp/{marker}")]
            deadline = time.time() + scaled(5)
            while not a_ready() and time.time() < deadline:
                time.sleep(0.05)
            a_pids = a_ready()
            self.assertTrue(a_pids, "run A did not start")
            a_pids = sorted(set(a_ready()))
            code_b = literals(MARKER=marker, A_PIDS=a_pids) + r'''
import signal
out = {"tmp": _os.listdir("/tmp"), "proc": sorted(int(p) for p in _os.listdir("/proc") if p.isdigit()),
       "me": _os.getpid()}
alive = []
for pid in list(range(1, 32768)) + A_PIDS:
    try:
        _os.kill(pid, 0)
        alive.append(pid)
    except OSError:
        pass
out["alive"] = sorted(set(alive))
killed = []
for pid in A_PIDS:
    try:
        _os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    except OSError:
        pass
out["killed"] = killed
out["a_proc"] = [p for p in A_PIDS if _os.path.exists("/proc/%d" % p)]
found = []
for root in ("/tmp", "/proc/1/root/tmp", "/dev/shm", "/run", "/var/tmp"):
    try:
        if MARKER in _os.listdir(root):
            found.append(root)
    except OSError:
        pass
for p in ["/proc/%d/root/tmp/%s" % (pid, MARKER) for pid in A_PIDS + [1]]:
    try:
        open(p).read()
        found.append(p)
    except OSError:
        pass
out["found"] = found
report(out)
'''
            r_b, b = run_attack(self, svc, code_b)
            self.assertFalse(fut_a.done(), "run A ended before run B: the runs did not overlap")
            r_a, a = fut_a.result()
        self.assertEqual(a["tmp"], [marker], "run A lost its file (was it killed or cleaned by B?)")
        self.assertEqual(b["tmp"], [], "run B sees files in /tmp")
        self.assertEqual(b["found"], [], "run B found run A's file")
        self.assertTrue(set(b["proc"]) <= {1, b["me"]}, f"run B sees other processes in /proc: {b['proc']}")
        self.assertTrue(set(b["alive"]) <= {1, b["me"]}, f"run B can signal pids {b['alive']}")
        self.assertEqual(b["killed"], [], "run B killed run A's processes")
        self.assertEqual(b["a_proc"], [], "run A's host pids are visible in run B's /proc")

    def test_no_unix_socket_channel_between_concurrent_runs(self):
        """bind/connect are denied, but an AF_UNIX datagram socket with SO_PASSCRED would be
        autobound to an abstract name by sendto(); abstract names are per network namespace. If
        runs shared one namespace, run B could find run A's name in /proc/net/unix (or try all
        2^20 of them) and send to it with sendto(). Tried with the default (a namespace per run)
        and with --netns shared (which the profile must make safe: SO_PASSCRED is denied)."""
        self.unix_channel_attack(svc)
        shared = Service(workers=2, extra_args=["--netns", "shared"])
        try:
            self.unix_channel_attack(shared)
        finally:
            shared.stop()

    def test_a_reused_network_namespace_holds_nothing_of_the_last_run(self):
        """By default a worker's runs share one empty network namespace
        (--netns per-worker): they never overlap, and the next sandbox is set
        up only once the last run's processes are all gone, with their
        sockets. Run A leaves a daemon holding AF_UNIX sockets; run B, the
        same worker's next run, is in the same namespace and finds none."""
        one = Service(workers=1)
        try:
            code_a = r'''
import os, socket, time
pair = socket.socketpair()
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(60)  # holds the sockets, if it could outlive the run
    os._exit(0)
time.sleep(0.2)
report({"ns": os.readlink("/proc/self/ns/net"), "unix": open("/proc/net/unix").read().splitlines()[1:]})
'''
            code_b = r'''
import os
report({"ns": os.readlink("/proc/self/ns/net"), "unix": open("/proc/net/unix").read().splitlines()[1:]})
'''
            # B in both warm images: the full image's prepared sandbox waited
            # in the namespace while a lean A ran.
            for b_prefix in ("", "import numpy  # the full image\n"):
                _, a = run_attack(self, one, code_a)
                _, b = run_attack(self, one, b_prefix + code_b)
                self.assertGreaterEqual(len(a["unix"]), 3, a)  # A's own sockets were there
                self.assertEqual(a["ns"], b["ns"], "not the same namespace: nothing was reused")
                self.assertEqual(b["unix"], [], f"run B ({b_prefix!r}) found sockets of run A")
        finally:
            one.stop()

    def unix_channel_attack(self, svc):
        marker = attack.unique("unix-a")
        code_a = literals(MARKER=marker) + r'''
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    passcred = "allowed"
except OSError as e:
    passcred = "errno %d" % e.errno
try:
    s.sendto(b"x", "\0" + MARKER)  # nobody there; with SO_PASSCRED the socket is autobound on the way
except OSError:
    pass
name = s.getsockname()
open("/tmp/" + MARKER, "w").write("bound")
s.settimeout(3)
got = []
deadline = time.monotonic() + 3
while time.monotonic() < deadline:
    try:
        got.append(s.recv(200).decode("latin-1"))
    except OSError:
        break
report({"name": name.decode("latin-1") if isinstance(name, bytes) else name, "got": got, "passcred": passcred})
'''
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            fut_a = pool.submit(run_attack, self, svc, code_a, 8000)

            def a_ready():
                return [p for p in attack.sandbox_processes(svc)
                        if os.path.exists(f"/proc/{p}/root/tmp/{marker}")]
            deadline = time.time() + scaled(5)
            while not a_ready() and time.time() < deadline:
                time.sleep(0.05)
            a_pids = a_ready()
            self.assertTrue(a_pids, "run A did not start")
            names = set()
            for p in a_pids:  # A's abstract names, read on the host from A's own namespace
                try:
                    for line in open(f"/proc/{p}/net/unix").read().splitlines()[1:]:
                        if line.split()[-1].startswith("@"):
                            names.add(line.split()[-1][1:])
                except OSError:
                    pass
            code_b = literals(A_NAMES=sorted(names)) + r'''
import socket
listed = [l.split()[-1][1:] for l in open("/proc/net/unix").read().splitlines()[1:]
          if l.split()[-1].startswith("@")]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sent = []
for n in sorted(set(listed + A_NAMES)):
    try:
        s.sendto(b"hello from run B", "\0" + n)
        sent.append(n)
    except OSError:
        pass
report({"listed": listed, "sent": sent})
'''
            r_b, b = run_attack(self, svc, code_b)
            r_a, a = fut_a.result()
        # Either the profile stopped the autobind (SO_PASSCRED denied), or A got a name
        # that B must not be able to reach.
        self.assertTrue(names or a["passcred"] != "allowed", "run A's socket was neither autobound nor refused")
        self.assertEqual(a["got"], [], f"run B reached run A through the abstract AF_UNIX socket "
                                       f"{a['name']!r} (B saw {b['listed']}, sent to {b['sent']})")
        self.assertEqual(b["sent"], [], "run B could send to another run's socket")
        self.assertEqual(b["listed"], [], "run B sees another run's sockets in /proc/net/unix")

    def test_sandbox_init_is_invisible(self):
        """The run's init (pid 1) holds a copy of a worker's (or zygote's) memory; it is not
        dumpable and /proc is mounted with hidepid, so the program cannot even see it."""
        code = r'''
import os as _os
out = {"pids": sorted(int(p) for p in _os.listdir("/proc") if p.isdigit()), "me": _os.getpid(),
       "ppid": _os.getppid(), "proc1": _os.path.exists("/proc/1")}
for name in ("status", "environ", "mem", "maps", "cmdline"):
    try:
        open("/proc/1/" + name, "rb").read(64)
        out[name] = "readable"
    except OSError as e:
        out[name] = e.errno
report(out)
'''
        r, d = run_attack(self, svc, code)
        # Cold, the init is the program's parent; warm, the parent is the zygote,
        # outside the namespace (getppid() is 0). Either way the init is there...
        self.assertIn(d["ppid"], (0, 1))
        self.assertFalse(d["proc1"], d)  # ...but is not in /proc at all
        self.assertNotIn(1, d["pids"], d)
        for name in ("status", "environ", "mem", "maps", "cmdline"):
            self.assertNotEqual(d[name], "readable", f"/proc/1/{name} is readable")

    def test_tmp_not_carried_over(self):
        for i in range(4):
            name = attack.unique("leftover")
            status, r = svc.run(f"open('/tmp/{name}', 'w').write('x')\nimport os\nos.mkdir('/tmp/d{i}')\n")
            self.assertEqual(r["status"], "ok", r)
            status, r = svc.run("import os\nprint(sorted(os.listdir('/tmp')))")
            self.assertEqual(r["stdout"], "[]\n", "a file left by one run is visible in the next")

    def test_memory_holds_no_other_request_data(self):
        code_secret = attack.unique("code-secret")
        expected_secret = attack.unique("expected-secret")
        # Several runs spread the secrets over the workers (a worker may hold old requests).
        for _ in range(4):
            status, r = svc.run(f"KEEP = '{code_secret}'\nx = 1\n",
                                [{"type": "variable_value", "name": "x", "expected": expected_secret},
                                 {"type": "output", "expected": expected_secret}])
            self.assertEqual(status, 200)
        own_expected = attack.unique("own-expected")
        needles = {"previous code": split_needle(code_secret),
                   "previous expected": split_needle(expected_secret),
                   "own expected": split_needle(own_expected)}
        code = literals(NEEDLES=needles) + MEMORY_SCAN + r'''
out = {"found": scan_memory(NEEDLES)}
for p in ("/proc/1/mem", "/proc/1/environ", "/proc/1/maps"):
    try:
        open(p, "rb").read(16)
        out[p] = "read"
    except OSError as e:
        out[p] = e.errno
try:
    import ctypes
    buf = ctypes.create_string_buffer(16)
    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    local = iovec(ctypes.cast(buf, ctypes.c_void_p), 16)
    remote = iovec(0x400000, 16)
    out["process_vm_readv"] = sc(310, 1, ctypes.addressof(local), 1, ctypes.addressof(remote), 1, 0)
except Exception as e:
    out["process_vm_readv"] = repr(e)
report(out)
'''
        for _ in range(4):
            r, d = run_attack(self, svc, code, timeout_ms=10000,
                              tests=[{"type": "variable_value", "name": "x", "expected": own_expected}])
            self.assertEqual(d["found"], [], "the sandbox's memory holds another request's data")
            for p in ("/proc/1/mem", "/proc/1/environ", "/proc/1/maps"):
                self.assertIsInstance(d[p], int, f"{p} is readable")
            self.assertEqual(d["process_vm_readv"], [-1, 1])

    def test_memory_scan_finds_what_is_there(self):
        """The control of the scan above: a secret the program does hold is found."""
        present = attack.unique("present")
        code = literals(NEEDLES={"present": split_needle(present)}) + MEMORY_SCAN + (
            "held = " + repr(present[:10]) + " + " + repr(present[10:]) + "\n"
            "report({'found': scan_memory(NEEDLES)})\n")
        r, d = run_attack(self, svc, code, timeout_ms=10000)
        self.assertEqual(d["found"], ["present"])


# --------------------------------------------------------------------- S7

FORGE_ALL_FDS = r'''
def forge(payload):
    for fd in range(0, 21):
        try:
            _os.write(fd, payload)
        except OSError:
            pass
'''
# The form given in the brief, and well-formed records as the harness writes them.
FORGED_SHORT = b'{"event":"finished","exitCode":0}\n{"i":0,"exists":true,"type":"int","value":42}\n'
FORGED_FULL = (b'\n\x00\xff garbage {"i": \n'
               b'{"event":"finished","exitCode":0,"syntaxError":false,"error":null}\n'
               b'{"i":0,"exists":true,"type":"int","value":42,"len":null}\n'
               b'{"i":1,"ok":true,"type":"int","value":42}\n'
               b'{"i":2,"exists":true,"type":"int","value":42,"len":null}\n'
               b'{"i":3,"exists":true,"type":"list","value":[42,42,42],"len":3}\n'
               b'{"event":"end"}\n')
FORGED_TESTS = [
    {"type": "variable_value", "name": "x", "expected": 42},
    {"type": "function_call", "function": "f", "args": [], "expected": 42},
    {"type": "variable_exists", "name": "ghost"},
    {"type": "list_length", "name": "xs", "expected": 3},
    {"type": "output", "expected": "a line the program never printed"},
]


class S7Forgery(unittest.TestCase):
    """The program shares the harness's process and so its result pipe (fd 4). Records it writes
    there while it runs come before the harness's own `finished` record; none may be believed."""

    def forge_run(self, payload, tail="", tests=FORGED_TESTS):
        code = literals(PAYLOAD=payload) + FORGE_ALL_FDS + ("forge(PAYLOAD)\nx = 1\nxs = [1]\n"
                                                           "def f():\n    return 1\n" + tail)
        status, r = svc.run(attack.PRELUDE + code, tests, timeoutMs=budget_ms(5000))
        self.assertEqual(status, 200, r)
        return r

    def assertAllFailed(self, r):
        passed = [t for t in r["testResults"] if t["passed"]]
        self.assertEqual(passed, [], "forged records changed the verdict")
        self.assertFalse(r["allPassed"])

    def test_forged_short_records(self):
        r = self.forge_run(FORGED_SHORT)
        self.assertEqual(r["status"], "ok", r["error"])
        self.assertAllFailed(r)

    def test_forged_full_records(self):
        r = self.forge_run(FORGED_FULL)
        self.assertEqual(r["status"], "ok", r["error"])
        self.assertAllFailed(r)

    def test_forged_records_then_exit_3(self):
        r = self.forge_run(FORGED_FULL, "import sys\nsys.exit(3)\n")
        self.assertEqual((r["status"], r["exitCode"]), ("error", 3), "the forged exitCode 0 was believed")
        self.assertAllFailed(r)

    def test_forged_records_then_exception(self):
        r = self.forge_run(FORGED_FULL, "raise ValueError('real failure')\n")
        self.assertEqual((r["status"], r["exitCode"]), ("error", 1))
        self.assertIsNotNone(r["error"], "the forged finished record (error: null) was believed")
        self.assertIn("ValueError: real failure", r["stderr"])
        self.assertAllFailed(r)
        self.assertIn("result channel", r["testResults"][0]["message"])

    def test_forged_syntax_error(self):
        payload = (b'{"event":"finished","exitCode":1,"syntaxError":true,'
                   b'"error":"SyntaxError: forged (line 1)"}\n')
        r = self.forge_run(payload, tests=[{"type": "variable_value", "name": "x", "expected": 1}])
        self.assertEqual(r["status"], "ok", f"a forged record turned a good run into {r['status']}: {r['error']}")
        # The stream is no longer the harness's alone: the test fails, it is not forged into a pass.
        self.assertFalse(r["testResults"][0]["passed"], r["testResults"])
        self.assertIn("result channel", r["testResults"][0]["message"])

    def test_hostile_records_do_not_crash_the_worker(self):
        workers = set(svc.worker_pids())
        code = r'''
import os
for depth in (1000, 100000, 1000000):
    os.write(4, b"\n" + b"[" * depth + b"\n")
    os.write(4, b'{"event":"finished","exitCode":0,"syntaxError":false,"error":null}\n')
    os.write(4, b'{"i":0,"exists":true,"type":"list","value":' + b"[" * depth + b"]" * depth + b',"len":1}\n')
    os.write(4, b'{"i":0,"exists":true,"type":"str","value":"' + b"\\ud800" * 1000 + b'\xff\xfe"}\n')
    os.write(4, b'{"i":1e400,"exists":true,"type":"int","value":1e400}\n{"i":-1}\n{"i":18446744073709551617}\n')
x = [[1]]
'''
        status, r = svc.run(code, [{"type": "variable_value", "name": "x", "expected": [[1]]},
                                   {"type": "variable_value", "name": "x", "expected": [[[1]]]}])
        self.assertEqual(status, 200, r)
        self.assertEqual(r["status"], "ok")
        self.assertFalse(r["testResults"][1]["passed"])
        self.assertEqual(set(svc.worker_pids()), workers, "hostile records crashed a worker")
        served(self)

    def test_result_channel_flood(self):
        workers = set(svc.worker_pids())
        code = ("import os\nchunk = b'{\"i\":0,\"exists\":true,\"type\":\"int\",\"value\":42}\\n' * 20000\n"
                "for _ in range(40):\n    os.write(4, chunk)\nx = 1\n")
        status, r = svc.run(code, [{"type": "variable_value", "name": "x", "expected": 42}],
                            timeoutMs=budget_ms(10000))
        self.assertEqual(status, 200, r)
        self.assertEqual(r["status"], "ok", r["error"])
        self.assertFalse(r["testResults"][0]["passed"], "records written by the program were believed")
        self.assertEqual(set(svc.worker_pids()), workers)
        served(self)

    def test_forged_records_on_dup_of_result_fd(self):
        code = literals(PAYLOAD=FORGED_FULL) + ("fd = __import__('os').dup(4)\n"
                                                "__import__('os').write(fd, PAYLOAD)\nx = 1\nxs = [1]\n"
                                                "def f():\n    return 1\n")
        status, r = svc.run(attack.PRELUDE + code, FORGED_TESTS)
        self.assertEqual(r["status"], "ok")
        self.assertAllFailed(r)


# --------------------------------------------------------------------- S8

class S8Symlinks(LeftoverChecks, unittest.TestCase):
    svc = property(lambda self: svc)

    def test_planted_symlinks_redirect_nothing(self):
        tag = attack.unique("planted")
        host_targets = [f"/root/{tag}", f"/tmp/{tag}", os.path.join(svc.state, tag), f"/etc/{tag}",
                        os.path.join(svc.state, "root", tag), f"/run/{tag}"]
        links = {
            "main.py": "/etc/shadow", "stdout": host_targets[0], "stderr": host_targets[1],
            "stdin": "/proc/self/fd/0", "input.json": host_targets[2], "result": host_targets[3],
            "harness.py": "/proc/self/environ", "passwd": "/etc/passwd", "self": "/proc/self/root",
            "root": "/", "pyexecd.sock": svc.socket, "state": svc.state, "out": host_targets[4],
            "run": host_targets[5], "__pycache__": "/usr/lib/python3", "sitecustomize.py": "/etc/passwd",
            "usercustomize.py": "/etc/passwd", ".pyexec": host_targets[0],
        }
        code = literals(LINKS=links) + r'''
made = []
for name, target in LINKS.items():
    try:
        _os.symlink(target, "/tmp/" + name)
        made.append(name)
    except OSError as e:
        pass
try:
    _os.link("/etc/passwd", "/tmp/hardlink")
except OSError:
    pass
report({"made": made})
'''
        r, d = run_attack(self, svc, code)
        self.assertGreaterEqual(len(d["made"]), len(links) - 1, d)
        for _ in range(4):
            served(self)
        status, r2 = svc.run("import os\nprint(os.listdir('/tmp'))\nx = 5\n",
                             [{"type": "variable_value", "name": "x", "expected": 5}])
        self.assertEqual((r2["stdout"], r2["allPassed"]), ("[]\n", True), r2)
        for target in host_targets:
            self.assertFalse(os.path.lexists(target), f"a run created {target} on the host")
        status, _, data = svc.request("GET", "/health")
        self.assertEqual(status, 200, data)
        self.assertNothingLeft(MOUNTS_BEFORE)

    def test_hostile_tmp_permissions(self):
        code = ("import os\nos.symlink('/', '/tmp/up')\nos.mkdir('/tmp/locked')\nos.chmod('/tmp/locked', 0)\n"
                "os.chmod('/tmp', 0)\n")
        status, r = svc.run(code)
        self.assertEqual(r["status"], "ok", r)
        for _ in range(4):
            served(self)


if __name__ == "__main__":
    import pyunit
    pyunit.main("security-isolation", globals())
