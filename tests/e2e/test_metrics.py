"""GET /metrics (SPEC §6.1) through a real nginx: what the counters say
against what the test did, promtool's check of the exposition, a real
Prometheus server scraping it on loopback, the allow-list, and /metrics
answering while every worker is busy. Also the optional bearer tokens
(SPEC §6.1), both ways."""
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import procfs  # noqa: E402
from promtext import total, value  # noqa: E402
from service import Service, free_port  # noqa: E402


def runs(samples, status):
    return value(samples, "pyexec_runs_total", status=status)


def answers(samples, path, code):
    return value(samples, "pyexec_http_responses_total", path=path, code=str(code))


class Counters(unittest.TestCase):
    """A fresh service: every counter starts at zero and says exactly what the test did."""

    @classmethod
    def setUpClass(cls):
        cls.svc = Service(workers=3)

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    def test_counters_are_what_the_test_did_summed_over_workers(self):
        before = self.svc.metrics()
        programs = ["print(1)"] * 6 + ["1/0"] * 3 + ["print(("] * 2 + ["while True: pass"]
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            statuses = list(pool.map(lambda code: self.svc.run(code, timeoutMs=300 if "while" in code else 5000)[1]
                                     ["status"], programs))
        self.assertEqual(sorted(statuses), sorted(["ok"] * 6 + ["error"] * 3 + ["syntax_error"] * 2 + ["timeout"]))
        self.assertEqual(self.svc.request("POST", "/run", "{not json")[0], 400)
        self.assertEqual(self.svc.request("GET", "/run")[0], 405)
        after = self.svc.metrics()
        for status, n in (("ok", 6), ("error", 3), ("syntax_error", 2), ("timeout", 1), ("killed", 0)):
            self.assertEqual(runs(after, status) - runs(before, status), n, status)
        self.assertEqual(answers(after, "/run", 200) - answers(before, "/run", 200), 12)
        self.assertEqual(answers(after, "/run", 400) - answers(before, "/run", 400), 1)
        self.assertEqual(answers(after, "/run", 405) - answers(before, "/run", 405), 1)
        # Every program ran, on three workers: the run histogram counted each once.
        self.assertEqual(value(after, "pyexec_run_duration_seconds_count") -
                         value(before, "pyexec_run_duration_seconds_count"), 12)
        self.assertGreaterEqual(value(after, "pyexec_run_duration_seconds_bucket", le="+Inf"), 12)
        # The timeout ran 300 ms at least, so the sum grew by that much.
        self.assertGreater(value(after, "pyexec_run_duration_seconds_sum") -
                           value(before, "pyexec_run_duration_seconds_sum"), 0.3)
        # nginx stamped every request: each waited in the queue a measured time.
        self.assertGreaterEqual(value(after, "pyexec_queue_wait_seconds_count") -
                                value(before, "pyexec_queue_wait_seconds_count"), 14)
        self.assertEqual(value(after, "pyexec_workers"), 3)

    def test_the_exposition_passes_promtool(self):
        self.svc.run("print(2)")
        status, headers, body = self.svc.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60)
        self.assertEqual((check.returncode, check.stdout, check.stderr), (0, b"", b""))

    def test_build_info_carries_the_versions_health_reports(self):
        health = self.svc.health()
        samples = self.svc.metrics()
        info = [dict(labels) for (name, labels), v in samples.items() if name == "pyexec_build_info" and v == 1]
        self.assertEqual(info, [{"version": health["version"], "schema_version": health["schemaVersion"],
                                 "python": health["python"], "numpy": health["packages"]["numpy"],
                                 "pandas": health["packages"]["pandas"]}])

    def test_head_and_wrong_methods(self):
        status, headers, body = self.svc.request("HEAD", "/metrics")
        self.assertEqual((status, body), (200, b""))
        status, headers, body = self.svc.request("POST", "/metrics", "x")
        self.assertEqual(status, 405)
        self.assertEqual(json.loads(body)["error"]["code"], "method_not_allowed")
        self.assertEqual(headers["Allow"], "GET, HEAD")

    def test_only_the_allow_list_may_read_it(self):
        """The default allow-list is 127.0.0.1 and ::1: 127.0.0.2 is another loopback address, not on it."""
        self.assertEqual(self.svc.request("GET", "/metrics", source="127.0.0.1")[0], 200)
        status, headers, body = self.svc.request("GET", "/metrics", source="127.0.0.2")
        self.assertEqual(status, 403)
        self.assertEqual(json.loads(body)["error"]["code"], "forbidden")
        self.assertEqual(headers["Content-Type"], "application/json")
        # /run and /health are not behind that list.
        self.assertEqual(self.svc.request("GET", "/health", source="127.0.0.2")[0], 200)


class Failures(unittest.TestCase):
    """Set-up failures by step, worker restarts by reason, zygote restarts."""

    def test_a_sandbox_that_cannot_be_set_up_is_counted_by_step(self):
        svc = Service(workers=1, mode="cold")
        root = os.path.join(svc.state, "root")
        try:
            self.assertEqual(svc.run("print(1)")[0], 200)
            os.rmdir(root)  # the mount point of every sandbox root: the filesystem step fails
            for _ in range(2):
                status, r = svc.run("print(1)")
                self.assertEqual((status, r["error"]["code"]), (503, "sandbox_unavailable"))
            samples = svc.metrics()
            self.assertEqual(value(samples, "pyexec_sandbox_setup_failures_total", step="filesystem"), 2)
            self.assertEqual(total(samples, "pyexec_sandbox_setup_failures_total"), 2)
            self.assertEqual(answers(samples, "/run", 503), 2)
            self.assertEqual(total(samples, "pyexec_runs_total"), 1)  # the runs that did not happen are not runs
        finally:
            os.makedirs(root, exist_ok=True)
            svc.stop()

    def test_worker_restarts_are_counted_by_reason(self):
        svc = Service(workers=2, extra_args=["--watchdog-ms", "2000"])
        try:
            first, second = sorted(svc.worker_pids())[:2]
            os.kill(first, signal.SIGKILL)
            os.kill(second, signal.SIGSTOP)  # silent: the watchdog kills it after 2 s
            deadline = time.time() + 30
            while time.time() < deadline:
                samples = svc.metrics()
                if total(samples, "pyexec_worker_restarts_total") >= 2:
                    break
                time.sleep(0.2)
            self.assertEqual(value(samples, "pyexec_worker_restarts_total", reason="signal"), 1)
            self.assertEqual(value(samples, "pyexec_worker_restarts_total", reason="watchdog"), 1)
            self.assertEqual(value(samples, "pyexec_worker_restarts_total", reason="exit"), 0)
        finally:
            svc.stop()

    def test_a_zygote_restart_is_counted(self):
        svc = Service(workers=1, mode="warm")
        try:
            self.assertEqual(svc.run("print(1)")[0], 200)
            zygotes = [p for w in svc.worker_pids() for p in procfs.children(w) if procfs.comm(p) == "pyexec-zygote"]
            self.assertEqual(len(zygotes), 1)
            os.kill(zygotes[0], signal.SIGKILL)
            # A broken zygote is replaced at most every 5 s, between requests.
            deadline = time.time() + 30
            while time.time() < deadline and value(svc.metrics(), "pyexec_zygote_restarts_total") < 1:
                self.assertEqual(svc.run("print(1)")[0], 200)
                time.sleep(0.5)
            self.assertEqual(value(svc.metrics(), "pyexec_zygote_restarts_total"), 1)
        finally:
            svc.stop()


class NeverBehindABusyWorker(unittest.TestCase):
    def test_metrics_answers_while_every_worker_runs(self):
        """Both workers run a 3 s program; /metrics answers before either
        finishes (the metrics responder runs no sandbox), while /health, which
        needs a worker, waits for one. Latencies are printed, not asserted."""
        svc = Service(workers=2)
        try:
            done = []
            busy = [threading.Thread(target=lambda: done.append(svc.run("import time\ntime.sleep(3)\n",
                                                                        timeoutMs=5000)[0]))
                    for _ in range(2)]
            for t in busy:
                t.start()
            deadline = time.time() + 10
            while time.time() < deadline and value(svc.metrics(), "pyexec_workers_busy") < 2:
                time.sleep(0.05)
            t0 = time.monotonic()
            samples = svc.metrics()
            metrics_ms = (time.monotonic() - t0) * 1000
            finished_before = len(done)
            t0 = time.monotonic()
            health_status = svc.request("GET", "/health")[0]
            health_ms = (time.monotonic() - t0) * 1000
            for t in busy:
                t.join()
            self.assertEqual(value(samples, "pyexec_workers_busy"), 2)
            self.assertEqual(finished_before, 0, "/metrics should not have waited for a run to end")
            self.assertEqual(health_status, 200)
            self.assertEqual(done, [200, 200])
            print(f"\n  with both workers busy: /metrics answered in {metrics_ms:.1f} ms, "
                  f"/health (needs a worker) in {health_ms:.0f} ms", flush=True)
        finally:
            svc.stop()


class PrometheusScrape(unittest.TestCase):
    """A real Prometheus server on loopback scrapes nginx's /metrics every
    second; a PromQL query over the counters must return what the test did."""

    def setUp(self):
        if shutil.which("prometheus") is None:
            self.skipTest("prometheus is not installed (Debian package prometheus, in packages.txt)")
        self.svc = Service(workers=2)
        self.dir = tempfile.mkdtemp(prefix="pyexec-prometheus-")
        self.port = free_port()
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: pyexec\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{self.svc.port}']\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.prom = subprocess.Popen(
            ["prometheus", f"--config.file={self.dir}/prometheus.yml", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT)

    def tearDown(self):
        self.prom.terminate()
        try:
            self.prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.prom.kill()
            self.prom.wait()
        self.log.close()
        self.svc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, promql):
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        self.assertEqual(body["status"], "success", body)
        return body["data"]["result"]

    def scalar(self, promql):
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, predicate, what, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                if predicate():
                    return
            except OSError:
                pass  # not listening yet
            if self.prom.poll() is not None:
                break
            time.sleep(0.25)
        with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
            self.fail(f"{what} within {seconds}s; prometheus log: {f.read()[-2000:]!r}")

    def test_a_promql_query_over_the_counters_returns_what_the_test_did(self):
        self.wait_for(lambda: self.scalar('up{job="pyexec"}') == 1, "a first successful scrape")
        for code in ["print(1)"] * 5 + ["1/0"] * 2:
            self.svc.run(code)
        self.svc.request("POST", "/run", "not json")
        done = time.time()
        # Once a scrape taken after the last request is stored, its values are final.
        self.wait_for(lambda: (self.scalar('timestamp(pyexec_runs_total{status="ok"})') or 0) > done + 0.5,
                      "a scrape after the last request")
        self.assertEqual(self.scalar('sum(pyexec_runs_total{status="ok"})'), 5)
        self.assertEqual(self.scalar('sum(pyexec_runs_total{status="error"})'), 2)
        self.assertEqual(self.scalar('sum(pyexec_runs_total)'), 7)
        self.assertEqual(self.scalar('sum(pyexec_http_responses_total{path="/run",code=~"4.."})'), 1)
        self.assertEqual(self.scalar('pyexec_run_duration_seconds_count'), 7)
        self.assertEqual(self.scalar('pyexec_workers'), 2)
        self.assertEqual(self.scalar('count(pyexec_build_info)'), 1)


class Tokens(unittest.TestCase):
    """Bearer tokens at nginx (SPEC §6.1): /run needs one when a token file is
    configured; /health stays open; off by default."""

    TOKEN = "t0ken-for.tests+only-7f3a9c2e"

    def test_with_a_token_file(self):
        svc = Service(workers=1, tokens=[self.TOKEN, "second-token-0123456789"])
        try:
            for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                            {"Authorization": self.TOKEN}, {"Authorization": f"Basic {self.TOKEN}"},
                            {"Authorization": f"Bearer {self.TOKEN}x"}, {"Authorization": f"Bearer {self.TOKEN[:-1]}"}):
                status, h, body = svc.request("POST", "/run", {"code": "print(1)"}, headers=headers)
                self.assertEqual(status, 401, headers)
                self.assertEqual(json.loads(body)["error"]["code"], "unauthorized")
                self.assertTrue(h["WWW-Authenticate"].startswith("Bearer"), h)
                self.assertIn("X-Request-Id", h)
            for auth in (f"Bearer {self.TOKEN}", f"bearer {self.TOKEN}", "Bearer second-token-0123456789"):
                status, _, body = svc.request("POST", "/run", {"code": "print(1)"}, headers={"Authorization": auth})
                self.assertEqual((status, json.loads(body)["stdout"]), (200, "1\n"), auth)
            self.assertEqual(svc.request("GET", "/health")[0], 200)
            self.assertEqual(svc.request("HEAD", "/health")[0], 200)
            self.assertEqual(svc.request("GET", "/metrics")[0], 200)
            # Refused requests never reached pyexecd.
            self.assertEqual(answers(svc.metrics(), "/run", 200), 3)
            self.assertEqual(total(svc.metrics(), "pyexec_http_responses_total", path="/run"), 3)
        finally:
            svc.stop()

    def test_off_by_default(self):
        svc = Service(workers=1)
        try:
            for headers in ({}, {"Authorization": "Bearer anything-at-all-0123"}):
                status, _, body = svc.request("POST", "/run", {"code": "print(1)"}, headers=headers)
                self.assertEqual(status, 200)
        finally:
            svc.stop()

    def test_a_bad_token_file_is_refused(self):
        tmp = tempfile.mkdtemp()
        try:
            for content in ("short\n", "has space in it 0123456789\n", "# only a comment\n\n"):
                path = os.path.join(tmp, "tokens")
                with open(path, "w") as f:
                    f.write(content)
                r = subprocess.run([os.path.join(os.path.dirname(__file__), "..", "..", "tools", "nginx-tokens.sh"),
                                    path], capture_output=True, text=True)
                self.assertNotEqual(r.returncode, 0, content)
                self.assertIn("nginx-tokens.sh:", r.stderr)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    from pyunit import main
    main("e2e-metrics", globals())
