"""Several executors behind one nginx (issue 13): two pyexecd on loopback TCP
ports in one upstream (nginx/pyexec.conf's parameters, written by
tools/nginx-conf.sh as for deploy/), a steady stream of requests, one
executor SIGKILLed mid-stream and started again. What clients see is
measured and printed (the README's figures); what must hold is asserted:
- no run executes twice: nginx sends a request to at most one executor
  (its access log: bytes sent per attempt), and no request id appears in
  more than one executor's log;
- the only 502s (executor_unavailable) are requests the killed executor had
  already taken; every request sent after it died is answered by the
  survivor (refused connections are passed on): 200, or 503 overloaded
  (not run, Retry-After) if the survivor saturates on this shared machine,
  which the figures count;
- the restarted executor serves requests again.
Latencies are printed, never asserted."""
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import http.client

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import cgroups  # noqa: E402
import fastcgi  # noqa: E402
from procfs import read  # noqa: E402
from service import PYEXECD, ROOT, free_port  # noqa: E402

RATE = 6            # requests per second, within what one executor's two workers carry here
KILL_AT = 6.0       # seconds into the stream
RESTART_AT = 14.0
STREAM_SECONDS = 30.0
PROGRAM = "import time\ntime.sleep(0.05)\nprint('done')\n"  # in flight long enough to be caught by the kill


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] not in "ZX"
    except OSError:
        return False


class Executor:
    """One pyexecd serving FastCGI on a loopback TCP port, metrics on another."""

    def __init__(self, name, uid, state):
        self.name, self.uid, self.state = name, uid, state
        self.port, self.metrics_port = free_port(), free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.proc = None
        self.logs = []
        self.killed = []  # (pid, /proc/pid/cgroup) of each SIGKILLed master, for tidy()

    def start(self):
        log_path = os.path.join(self.state, f"{self.name}-{len(self.logs)}.log")
        self.logs.append(log_path)
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [PYEXECD, "serve", "--listen", self.addr, "--metrics-listen", f"127.0.0.1:{self.metrics_port}",
             "--state-dir", os.path.join(self.state, self.name), "--workers", "2", "--mode", "warm",
             "--uid", str(self.uid), "--gid", str(self.uid)], stdout=self.log, stderr=subprocess.STDOUT)

    def pids(self):
        """The master and its children (workers, metrics responder)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        return [self.proc.pid] + [int(p) for p in out.stdout.split()]

    def kill(self):
        """SIGKILL to the master (its workers die with it); returns once none is left."""
        pids = self.pids()
        self.killed.append((self.proc.pid, read(f"/proc/{self.proc.pid}/cgroup")))
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        deadline = time.time() + 10
        while time.time() < deadline and any(alive(p) for p in pids):
            time.sleep(0.01)
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        # What each kill left in the cgroups (v1: pyexec-<pid>), once the
        # sandboxes have gone too.
        for pid, own in self.killed:
            deadline = time.time() + 10
            while cgroups.left_by_killed(pid, own) and time.time() < deadline:
                time.sleep(0.1)

    def request_ids(self):
        ids = []
        for path in self.logs:
            with open(path, "rb") as f:
                for line in f:
                    if line.startswith(b"{") and b'"path":"/run"' in line:
                        ids.append(json.loads(line)["requestId"])
        return ids


class TwoExecutors(unittest.TestCase):
    def setUp(self):
        self.addCleanup(self.cleanUp)  # also when setUp fails, unlike tearDown
        self.nginx = None
        self.state = tempfile.mkdtemp(prefix="pyexec-scaling-", dir="/run")
        os.chmod(self.state, 0o755)
        self.a = Executor("a", 60000, self.state)
        self.b = Executor("b", 60010, self.state)
        self.port = free_port()
        self.prefix = os.path.join(self.state, "nginx")
        self.access_log = os.path.join(self.state, "access.log")
        env = {**os.environ, "PYEXEC_METRICS": f"127.0.0.1:{self.a.metrics_port},127.0.0.1:{self.b.metrics_port}",
               "PYEXEC_ACCESS_LOG": self.access_log}
        subprocess.check_call([os.path.join(ROOT, "tools", "nginx-conf.sh"), self.prefix, str(self.port),
                               f"{self.a.addr},{self.b.addr}"], env=env, stdout=subprocess.DEVNULL)
        self.nginx_log = open(os.path.join(self.state, "nginx.log"), "wb")
        for e in (self.a, self.b):
            e.start()
        self.nginx = subprocess.Popen(["nginx", "-p", self.prefix, "-c", os.path.join(self.prefix, "nginx.conf"),
                                       "-e", "stderr"], stdout=self.nginx_log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while not port_open(self.port) and time.time() < deadline:
            time.sleep(0.05)
        for e in (self.a, self.b):
            self.wait_ready(e)

    def cleanUp(self):
        if self.nginx:
            self.nginx.send_signal(signal.SIGTERM)
            self.nginx.wait(timeout=30)
        if getattr(self, "nginx_log", None):
            self.nginx_log.close()
        for e in (getattr(self, "a", None), getattr(self, "b", None)):
            if e is not None:
                e.stop()
        shutil.rmtree(self.state, ignore_errors=True)

    def wait_ready(self, executor, seconds=90):
        """Its workers are warm: its own /health (FastCGI, straight to its
        port: through nginx it could be the other's) says so."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if executor.proc.poll() is not None:
                self.fail(f"executor {executor.name} exited: {open(executor.logs[-1], 'rb').read()[-2000:]!r}")
            try:
                with socket.create_connection(("127.0.0.1", executor.port), timeout=30) as sock:
                    sock.sendall(fastcgi.head("GET", "/health") + fastcgi.stdin_records(b""))
                    answer = fastcgi.read_response(sock)
                if answer and answer[0] == 200 and json.loads(answer[1])["sandbox"]["mode"] == "warm":
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.fail(f"executor {executor.name} not ready after {seconds}s")

    def get(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read().decode()
        except OSError:
            return 0, ""
        finally:
            conn.close()

    def send(self, i, t0):
        rid = f"scaling-{i:05d}"
        sent = time.monotonic() - t0
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("POST", "/run", json.dumps({"code": PROGRAM, "timeoutMs": 5000}),
                         headers={"X-Request-Id": rid, "Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            status = r.status
        except OSError as e:
            status, body = 0, str(e).encode()
        finally:
            conn.close()
        done = time.monotonic() - t0
        code = json.loads(body)["error"]["code"] if status not in (0, 200) and body.startswith(b"{") else None
        return {"rid": rid, "sent": sent, "done": done, "status": status, "code": code}

    def read_access_log(self):
        out = {}
        with open(self.access_log) as f:
            for line in f:
                rid, method, uri, status, addrs, ustatus, sent, connect, msec = line.rstrip("\n").split("\t")
                if uri != "/run":
                    continue
                out[rid] = {"status": int(status), "addrs": addrs.split(", "), "ustatus": ustatus.split(", "),
                            "sent": [0 if s == "-" else int(s) for s in sent.split(", ")],
                            "connect": connect.split(", ")}
        return out

    def test_kill_one_executor_mid_stream(self):
        results, marks = [], {}
        pool = concurrent.futures.ThreadPoolExecutor(24)
        t0 = time.monotonic()
        futures = []

        def steer():
            self.a.kill()
            marks["killed"] = time.monotonic() - t0

        killer = threading.Timer(KILL_AT, steer)
        killer.start()
        restarted = threading.Event()
        i = 0
        while True:
            now = time.monotonic() - t0
            if now >= STREAM_SECONDS:
                break
            if now >= RESTART_AT and not restarted.is_set():
                restarted.set()
                marks["restart"] = now
                self.a.start()
                threading.Thread(target=lambda: (self.wait_ready(self.a),
                                                 marks.__setitem__("ready", time.monotonic() - t0))).start()
            target = i / RATE
            if now < target:
                time.sleep(min(target - now, 0.05))
                continue
            futures.append(pool.submit(self.send, i, t0))
            i += 1
        killer.join()
        results = [f.result() for f in futures]
        pool.shutdown()
        deadline = time.time() + 60
        while "ready" not in marks and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("ready", marks, "the restarted executor never became ready")
        time.sleep(0.5)  # the access log is written as each request ends
        log = self.read_access_log()
        self.check_and_report(results, log, marks)

    def check_and_report(self, results, log, marks):
        a, b = self.a.addr, self.b.addr
        killed, ready = marks["killed"], marks["ready"]
        self.assertEqual(len(log), len(results), "every request is in nginx's access log")
        # 1. No run executes twice: bytes reached at most one executor per request, and no
        #    request id is in two executors' logs.
        for r in results:
            entry = log[r["rid"]]
            self.assertLessEqual(sum(1 for n in entry["sent"] if n > 0), 1, entry)
        ids = self.a.request_ids() + self.b.request_ids()
        self.assertEqual(len(ids), len(set(ids)), "a request id in two executors' logs")
        # 2. The only 502s: requests A had taken before it was gone. Any other
        #    answer is 200 or the survivor's 503 overloaded.
        failed = [r for r in results if r["status"] == 502]
        for r in failed:
            entry = log[r["rid"]]
            self.assertEqual(r["code"], "executor_unavailable", r)
            self.assertEqual(entry["addrs"], [a], entry)
            self.assertLess(r["sent"], killed, r)
        for r in results:
            self.assertIn((r["status"], r["code"]), ((200, None), (502, "executor_unavailable"), (503, "overloaded")), r)
        # 3. Sent after A was gone and before it came back: all answered by B.
        between = [r for r in results if killed < r["sent"] < marks["restart"]]
        self.assertTrue(between)
        for r in between:
            self.assertIn(r["status"], (200, 503), r)
            self.assertEqual(log[r["rid"]]["addrs"][-1], b, log[r["rid"]])
        # 4. A serves again once it is back.
        after = [r for r in results if r["sent"] > ready and log[r["rid"]]["addrs"][-1] == a]
        self.assertTrue(after, "the restarted executor served no request")
        self.report(results, log, marks, failed, between, after)

    def report(self, results, log, marks, failed, between, after):
        a, b = self.a.addr, self.b.addr
        killed, ready = marks["killed"], marks["ready"]

        def served(rs, addr):
            return sum(1 for r in rs if r["status"] == 200 and log[r["rid"]]["addrs"][-1] == addr)

        before = [r for r in results if r["sent"] < KILL_AT]
        back = [r for r in results if r["sent"] > ready]
        passed_on = [r for r in results if len(log[r["rid"]]["addrs"]) > 1]
        def p(rs, q):
            xs = sorted(r["done"] - r["sent"] for r in rs if r["status"] == 200)
            return 1000 * xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")
        first_a = min((r["sent"] for r in after), default=float("nan"))
        first_restarted = min((r["sent"] for r in results if r["sent"] > marks["restart"] and r["status"] == 200
                               and log[r["rid"]]["addrs"][-1] == a), default=float("nan"))
        lines = [
            f"{len(results)} requests at {RATE}/s for {STREAM_SECONDS:.0f} s; executor A SIGKILLed at "
            f"{killed:.2f} s, restarted at {marks['restart']:.2f} s, ready (warm) at {ready:.2f} s",
            f"before the kill: A served {served(before, a)}, B {served(before, b)}; "
            f"latency p50/p99 {p(before, 0.5):.0f}/{p(before, 0.99):.0f} ms",
            f"failed: {len(failed)} (" + ", ".join(f"{r['status']} {r['code']}" for r in failed[:3]) +
            (", ..." if len(failed) > 3 else "") + "), sent between "
            f"{min((r['sent'] for r in failed), default=float('nan')):.2f} and "
            f"{max((r['sent'] for r in failed), default=float('nan')):.2f} s, answered by "
            f"{max((r['done'] for r in failed), default=float('nan')):.2f} s",
            f"A down: {len(between)} requests, all answered by B ({sum(r['status'] == 200 for r in between)} "
            f"200, {sum(r['status'] == 503 for r in between)} 503 overloaded); latency p50/p99 "
            f"{p(between, 0.5):.0f}/{p(between, 0.99):.0f} ms; {len(passed_on)} passed on from A's refused "
            f"connection to B in all",
            f"A back: first request served by the new A sent at {first_restarted:.2f} s "
            f"({first_restarted - marks['restart']:.2f} s after its start); first after it was warm at "
            f"{first_a:.2f} s; after that A served {served(back, a)}, B {served(back, b)}; "
            f"latency p50/p99 {p(back, 0.5):.0f}/{p(back, 0.99):.0f} ms",
        ]
        print("\n  " + "\n  ".join(lines), flush=True)


if __name__ == "__main__":
    from pyunit import main
    main("e2e-scaling", globals())
