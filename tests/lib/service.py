"""Starts a real pyexecd and a real nginx on a free loopback port for a test
suite, and stops both by pid afterwards (never by name)."""
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from timescale import scaled

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
PYEXECD = os.path.join(BUILD, "pyexecd")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MODE = os.environ.get("PYEXEC_TEST_MODE", "warm")  # run_all.sh runs suites in both modes
# Warm mode's images (--images): split by default; run_all.sh runs the
# attack suites with "full" too, where every program forks the full image.
IMAGES = os.environ.get("PYEXEC_TEST_IMAGES")


class Service:
    def __init__(self, workers=2, extra_args=(), rate_limit=False, mode=None, tcp=False, binary=PYEXECD, cwd=None,
                 own_session=False, tokens=None, metrics_allow=None, access_log=False, check_answers=None):
        """binary and cwd: another pyexecd (an installed one), started from another folder.
        tokens: bearer tokens nginx requires on /run (a list; written to a
        token file). metrics_allow: the /metrics allow-list ("ADDR ...";
        default loopback). access_log: nginx logs each request's upstream
        attempts to self.access_log. check_answers: called with (method,
        path, status, headers, body) for every answer (tests/lib/openapi.py).
        own_session: pyexecd leads a session of its own, as under systemd
        or as a container's entrypoint: its process group can then be
        orphaned, as in production, and what an attack does to that group or
        to the session's autogroup (the kernel's SIGHUP to an orphaned group
        needs no permission) cannot reach the test runner."""
        self.mode = mode or MODE
        self.port = free_port()
        self.state = tempfile.mkdtemp(prefix="pyexec-test-", dir="/run")
        os.chmod(self.state, 0o755)
        # FastCGI over a unix socket (the default), or over TCP on loopback.
        self.socket = f"127.0.0.1:{free_port()}" if tcp else os.path.join(self.state, "pyexecd.sock")
        self.prefix = os.path.join(self.state, "nginx")
        self.log_path = os.path.join(self.state, "pyexecd.log")
        self.check_answers = check_answers
        # Over TCP the metrics responder needs a port of its own (pyexecd has no default there).
        metrics_args = ["--metrics-listen", f"127.0.0.1:{free_port()}"] if tcp else []
        conf_env = dict(os.environ)
        if tcp:
            conf_env["PYEXEC_METRICS"] = metrics_args[1]
        if tokens is not None:
            token_file = os.path.join(self.state, "tokens")
            with open(token_file, "w") as f:
                f.write("".join(t + "\n" for t in tokens))
            conf_env["PYEXEC_TOKENS"] = token_file
        if metrics_allow is not None:
            conf_env["PYEXEC_METRICS_ALLOW"] = metrics_allow
        self.access_log = os.path.join(self.state, "access.log") if access_log else None
        if self.access_log:
            conf_env["PYEXEC_ACCESS_LOG"] = self.access_log
        user = subprocess.check_output(
            [os.path.join(ROOT, "tools", "nginx-conf.sh"), self.prefix, str(self.port), self.socket,
             "on" if rate_limit else "off"], text=True, env=conf_env).strip()
        group = subprocess.check_output(["id", "-gn", user], text=True).strip()
        self.log = open(self.log_path, "wb")
        # pyexecd's and nginx's wall-clock budgets (default and largest
        # timeoutMs, the wait for a worker, the shutdown grace, nginx's
        # FastCGI timeouts) grow on a slower machine (PYEXEC_TIME_SCALE);
        # extra_args still win.
        self.timeout_ms, self.max_timeout_ms = round(scaled(2000)), round(scaled(10000))
        budgets = []
        if scaled(1) > 1:
            budgets = ["--timeout-ms", str(self.timeout_ms), "--max-timeout-ms", str(self.max_timeout_ms),
                       "--queue-timeout-ms", str(round(scaled(5000))), "--grace-ms", str(round(scaled(15000)))]
            self._scale_nginx_timeouts()
        self.pyexecd = subprocess.Popen(
            [binary, "serve", "--listen", self.socket, "--socket-group", group, "--state-dir", self.state,
             "--workers", str(workers), "--mode", self.mode, *budgets, *metrics_args,
             *(["--images", IMAGES] if IMAGES else []), *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=own_session,
            env={**os.environ, "PYEXEC_TEST_SECRET": "s3cr3t-do-not-leak"}, cwd=cwd)
        self.nginx = None
        try:
            self._wait(self._listening, "pyexecd socket")
            # Where pyexecd put itself (v2: P/daemon) once its cgroups are
            # set up: a later pyexecd started in the same cgroup may move it
            # deeper, but its runs stay where they were (tests/lib/cgroups.py).
            with open(f"/proc/{self.pyexecd.pid}/cgroup") as f:
                self.cgroup_at_start = f.read()
            self.nginx = subprocess.Popen(["nginx", "-p", self.prefix, "-c", os.path.join(self.prefix, "nginx.conf"),
                                           "-e", "stderr"], stdout=self.log, stderr=subprocess.STDOUT)
            self._wait(self._port_open, "nginx port")
            if self.mode == "warm":  # let the workers' zygotes finish importing pandas
                self._wait(self._warm, "warm mode", seconds=scaled(60))
        except Exception:
            self.stop()
            raise

    def _scale_nginx_timeouts(self):
        conf = os.path.join(self.prefix, "pyexec.conf")
        with open(conf) as f:
            text = f.read()
        text = re.sub(r"\b(\w+_timeout) (\d+)s;", lambda m: f"{m[1]} {math.ceil(scaled(int(m[2])))}s;", text)
        with open(conf, "w") as f:
            f.write(text)

    def _listening(self):
        if "/" in self.socket:
            return os.path.exists(self.socket)
        host, port = self.socket.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
            return True
        except OSError:
            return False

    def _warm(self):
        try:
            status, _, data = self.request("GET", "/health", timeout=30)
            return status == 200 and json.loads(data)["sandbox"]["mode"] == "warm"
        except OSError:
            return False

    def _port_open(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def _wait(self, ready, what, seconds=None):
        seconds = seconds or scaled(20)
        deadline = time.time() + seconds
        while time.time() < deadline:
            if ready():
                return
            for name, proc in (("pyexecd", self.pyexecd), ("nginx", getattr(self, "nginx", None))):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {self.logs()}")
            time.sleep(0.05)
        raise RuntimeError(f"{what} not ready after {seconds}s: {self.logs()}")

    def logs(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def logs_matching(self, pattern, seconds=5):
        """The log once it matches the regex pattern (a request's log line is
        written just after its answer), or as it is after `seconds`."""
        deadline = time.time() + scaled(seconds)
        while not re.search(pattern, self.logs()) and time.time() < deadline:
            time.sleep(0.05)
        return self.logs()

    def request(self, method, path, body=None, headers=None, timeout=60, source=None):
        """source: the client's address (any of 127.0.0.0/8), for allow-lists."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout),
                                          source_address=(source, 0) if source else None)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if self.check_answers is not None:
            self.check_answers(method, path, resp.status, dict(resp.getheaders()), data)
        return resp.status, dict(resp.getheaders()), data

    def metrics(self):
        """GET /metrics: {(name, frozenset of (label, value)): value} (tests/lib/promtext.py)."""
        from promtext import parse
        status, _, data = self.request("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}: {data[:500]!r}")
        return parse(data.decode())

    def run(self, code, tests=None, **fields):
        body = {"code": code, **fields}
        if tests is not None:
            body["tests"] = tests
        status, headers, data = self.request("POST", "/run", body)
        return status, json.loads(data) if data else None

    def health(self):
        """/health's body (the settings part of it does not change while the
        service runs, so it is read once)."""
        if getattr(self, "_health", None) is None:
            status, _, data = self.request("GET", "/health")
            if status != 200:
                raise RuntimeError(f"/health answered {status}: {data[:500]!r}")
            self._health = json.loads(data)
        return self._health

    def worker_pids(self):
        """The workers: the master's children but the metrics responder."""
        out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(self.pyexecd.pid)], capture_output=True,
                             text=True)
        return [int(line.split()[0]) for line in out.stdout.splitlines() if line.split()[1:] != ["pyexec-metrics"]]

    def metrics_responder_pid(self):
        out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(self.pyexecd.pid)], capture_output=True,
                             text=True)
        pids = [int(line.split()[0]) for line in out.stdout.splitlines() if line.split()[1:] == ["pyexec-metrics"]]
        return pids[0] if pids else None

    def stop(self):
        procs = [p for p in (self.nginx, self.pyexecd) if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=scaled(30))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not self.log.closed:
            self.log.close()
        shutil.rmtree(self.state, ignore_errors=True)
