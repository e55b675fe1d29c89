"""The service's life: make run's script, graceful stop, reload, worker
respawn, admission control, nginx's own error pages, start-up refusals."""
import concurrent.futures
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import cgroups  # noqa: E402
import fastcgi  # noqa: E402
import procfs  # noqa: E402
from service import BUILD, PYEXECD, ROOT, Service, free_port  # noqa: E402


def still_there(folders):
    """Those of pyexecd's cgroup folders (cgroups.runs_roots*, taken while it
    ran) that outlived it."""
    return [d for d in folders if os.path.exists(d)]


def prepared_inits(worker, count=1, seconds=10):
    """The inits of the worker's prepared sandboxes (its children that are
    pid 1 of a namespace) whose program waits for its input, once there are
    `count` of them; [] if not within `seconds`."""
    deadline = time.time() + seconds
    while True:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(worker)], capture_output=True, text=True)
        inits = [pid for pid in map(int, out.stdout.split())
                 if procfs.is_sandbox_init(pid) and procfs.prepared_program(pid)]
        if len(inits) >= count:
            return inits
        if time.time() > deadline:
            return []
        time.sleep(0.05)


# A warm worker with one image (--images full) keeps two sandboxes prepared:
# one for any run, and one for pytest exercises (pytest's pages written ahead).
PREPARED_FULL = 2
PYTEST_BODY = {"code": "def add(a, b):\n    return a + b\n",
               "tests": [{"type": "pytest", "code": "from main import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"}]}


def gone(pid):
    """Whether pid has exited (a zombie counts)."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


def get(port, path, timeout=30):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class MakeRun(unittest.TestCase):
    def test_serve_script_starts_and_stops_cleanly(self):
        port = free_port()
        # Ctrl-C must reach serve.sh even when this suite runs as a background
        # job (which starts with SIGINT ignored, and bash cannot trap it then).
        proc = subprocess.Popen([os.path.join(ROOT, "tools", "serve.sh"), BUILD, str(port)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        pids = []
        try:
            deadline = time.time() + 30
            status = None
            while time.time() < deadline:
                try:
                    status, body = get(port, "/health")
                    break
                except OSError:
                    time.sleep(0.2)
            self.assertEqual(status, 200)
            self.assertEqual(body["status"], "healthy")
            children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True)
            pids = [int(p) for p in children.stdout.split()]
            self.assertGreaterEqual(len(pids), 2)  # pyexecd and nginx
            pyexecd = [p for p in pids if b"pyexecd" in (procfs.read(f"/proc/{p}/cmdline", "rb") or b"")]
            self.assertEqual(len(pyexecd), 1, pids)
            folders = cgroups.runs_roots_of(pyexecd[0], body["sandbox"]["cgroup"])
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                out, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:  # say what is still running, stop it, fail
                tree = subprocess.run(["ps", "-e", "--forest", "-o", "pid,ppid,stat,wchan:20,args"],
                                      capture_output=True, text=True).stdout
                tree = "\n".join(l for l in tree.splitlines() if "pyexec" in l or str(port) in l)
                for pid in pids + [proc.pid]:
                    try:
                        os.kill(pid, signal.SIGTERM if pid != proc.pid else signal.SIGKILL)
                    except OSError:
                        pass
                proc.wait()
                self.fail(f"serve.sh did not stop within 30 s:\n{tree}")
        for pid in pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"process {pid} survived: {out[-2000:]}")
        self.assertEqual(still_there(folders), [])
        self.assertFalse(os.path.exists(f"/run/pyexecd-{port}"))
        with self.assertRaises(OSError):
            get(port, "/health", timeout=2)


class Lifecycle(unittest.TestCase):
    def test_graceful_stop_finishes_in_flight_run(self):
        svc = Service(workers=2)
        try:
            folders = cgroups.runs_roots(svc)
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                fut = pool.submit(svc.run, "import time\ntime.sleep(1.5)\nprint('finished')", None, timeoutMs=5000)
                time.sleep(0.7)
                svc.pyexecd.send_signal(signal.SIGTERM)
                status, r = fut.result(timeout=30)
            self.assertEqual((status, r["status"], r["stdout"]), (200, "ok", "finished\n"))
            self.assertEqual(svc.pyexecd.wait(timeout=30), 0)
            self.assertFalse(os.path.exists(svc.socket))
            self.assertEqual(still_there(folders), [])
            status, headers, data = svc.request("GET", "/health")  # nginx still up, pyexecd gone
            self.assertEqual(status, 502)
            self.assertEqual(json.loads(data)["error"]["code"], "executor_unavailable")
        finally:
            svc.stop()

    def test_reload_replaces_workers_and_applies_settings(self):
        conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        conf.write("timeout-ms = 2000\n")
        conf.close()
        svc = Service(workers=2, extra_args=["--config", conf.name])
        try:
            before = set(svc.worker_pids())
            with open(conf.name, "w") as f:
                f.write("timeout-ms = 3000  # changed\n")
            svc.pyexecd.send_signal(signal.SIGHUP)
            deadline = time.time() + 30
            while time.time() < deadline:
                status, r = svc.run("print('during reload')")
                self.assertEqual((status, r["stdout"]), (200, "during reload\n"))
                after = set(svc.worker_pids())
                if len(after) == 2 and not (after & before):
                    break
                time.sleep(0.2)
            self.assertFalse(set(svc.worker_pids()) & before, "old workers still running")
            time.sleep(2.1)  # the health cache
            status, headers, data = svc.request("GET", "/health")
            self.assertEqual(json.loads(data)["limits"]["timeoutMs"], 3000)
        finally:
            svc.stop()
            os.unlink(conf.name)

    def test_fail_closed_when_a_sandbox_step_fails(self):
        svc = Service(workers=1)
        try:
            root = os.path.join(svc.state, "root")
            os.rmdir(root)  # the new root cannot be mounted: the filesystem step fails
            # The worker's prepared sandboxes (one per warm image) were
            # complete before the root went away: each may serve one request,
            # and says so in the log; no new one can be set up.
            for served in range(3):
                status, headers, data = svc.request("POST", "/run", {"code": "print('must not run')"})
                if status != 200:
                    break
                self.assertLess(served, 2, "more requests served than sandboxes were prepared")
                rid = json.loads(data)["requestId"]
                line = [l for l in svc.logs_matching(rid).splitlines() if rid in l]
                self.assertRegex(line[-1] if line else "", '"sandbox":"(warm full|warm lean|cold), prepared"')
            self.assertEqual(status, 503, data)
            body = json.loads(data)
            self.assertEqual(body["error"]["code"], "sandbox_unavailable")
            self.assertNotIn("must not run", data.decode())
            self.assertEqual(headers.get("Retry-After"), "1")
            status, headers, data = svc.request("GET", "/health")
            health = json.loads(data)
            self.assertEqual((status, health["status"]), (503, "unhealthy"))
            self.assertIn("filesystem", health["checks"]["sandbox"])
            self.assertIn("sandbox step 'filesystem' failed", svc.logs())
            os.mkdir(root)
            self.assertEqual(svc.run("print('back')")[1]["stdout"], "back\n")
        finally:
            svc.stop()

    def test_modes_on_health(self):
        for mode in ("warm", "cold"):
            svc = Service(workers=1, mode=mode)
            try:
                status, headers, data = svc.request("GET", "/health")
                self.assertEqual(json.loads(data)["sandbox"]["mode"], mode)
                # Warm: pandas is imported already, so its quest costs far less CPU than a cold import.
                status, r = svc.run("import pandas as pd\nprint(pd.Series([1, 2]).sum())", timeoutMs=10000)
                self.assertEqual((r["status"], r["stdout"]), ("ok", "3\n"))
                if mode == "warm":
                    self.assertLess(r["cpuTimeMs"], 100, "pandas was imported again: the run was not warm")
                else:
                    self.assertGreater(r["cpuTimeMs"], 100, "a cold run cannot import pandas this cheaply")
            finally:
                svc.stop()

    def test_sandbox_settings_reach_both_modes(self):
        code = ("import os\nst = os.statvfs('/tmp')\n"
                "print(os.getuid(), os.getgid(), st.f_blocks * st.f_frsize, os.fstatvfs(0) and 1)\n")
        for mode in ("warm", "cold"):
            svc = Service(workers=1, mode=mode, extra_args=["--uid", "51234", "--gid", "51240", "--tmp-bytes", "8388608"])
            try:
                status, r = svc.run(code)
                self.assertEqual(r["stdout"], "51234 51240 8388608 1\n", (mode, r))
            finally:
                svc.stop()

    def test_each_worker_slot_has_its_own_uid(self):
        """Two runs at the same time (one per worker) never share a uid or gid."""
        import concurrent.futures
        code = "import os, time\ntime.sleep(0.5)\nprint(os.getuid(), os.getgid())\n"
        svc = Service(workers=2, extra_args=["--uid", "52000", "--gid", "53000"])
        try:
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(lambda _: svc.run(code)[1], range(2)))
            ids = sorted(tuple(int(x) for x in a["stdout"].split()) for a in answers)
            self.assertEqual(ids, [(52000, 53000), (52001, 53001)], answers)
            self.assertEqual(svc.health()["sandbox"]["uidRange"], [52000, 52001])
        finally:
            svc.stop()

    def test_a_dead_zygote_is_replaced(self):
        svc = Service(workers=1, mode="warm", extra_args=["--images", "full"])
        try:
            worker = svc.worker_pids()[0]
            self.assertTrue(prepared_inits(worker), "the worker has no prepared sandbox")
            out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(worker)], capture_output=True, text=True)
            zygotes = [int(l.split()[0]) for l in out.stdout.splitlines() if "pyexec-zygote" in l]
            self.assertEqual(len(zygotes), 1, out.stdout)
            os.kill(zygotes[0], signal.SIGKILL)
            deadline = time.time() + 10
            while not gone(zygotes[0]) and time.time() < deadline:
                time.sleep(0.02)
            # The program the zygote had forked for the next run outlives it:
            # its init now reaps it and reports how it ended (no harness
            # record here: os._exit).
            status, r = svc.run("import os\nos._exit(3)")
            self.assertEqual((status, r["exitCode"]), (200, 3), r)
            self.assertIn('"sandbox":"warm full, prepared"', svc.logs_matching('"sandbox":"warm full, prepared"'))
            status, r = svc.run("print('served cold meanwhile')")
            self.assertEqual((status, r["stdout"]), (200, "served cold meanwhile\n"))
            time.sleep(5.2)
            svc.run("pass")  # triggers the restart
            deadline = time.time() + 30
            while time.time() < deadline and not svc._warm():
                time.sleep(0.3)
            self.assertTrue(svc._warm(), svc.logs())
            self.assertIn("restarting the warm full zygote", svc.logs())
            # The log says how each run was served: without a zygote, cold.
            pattern = '"sandbox":"cold, (prepared|set up on request)"'
            self.assertRegex(svc.logs_matching(pattern), pattern)
            for _ in range(3):
                self.assertEqual(svc.run("print(2)")[1]["stdout"], "2\n")
            pattern = '"sandbox":"warm full, prepared"[^\n]*\n$'  # the last run's line
            self.assertRegex(svc.logs_matching(pattern), pattern)
        finally:
            svc.stop()

    def test_a_dead_prepared_sandbox_is_replaced(self):
        # Each worker keeps its next run's sandbox ready; if that sandbox dies
        # before its request (its init is killed here), the request gets one
        # set up on the spot and the log says so. One image: a prepared
        # sandbox, and the one for pytest exercises (test_images covers two
        # images); both are killed.
        svc = Service(workers=1, extra_args=["--images", "full"])
        try:
            svc.run("print(1)")  # after it, the worker prepares the next sandbox
            inits = prepared_inits(svc.worker_pids()[0], PREPARED_FULL if svc.mode == "warm" else 1)
            self.assertTrue(inits, "the worker has no prepared sandbox")
            for init in inits:
                os.kill(init, signal.SIGKILL)  # the request follows at once: the init is still dying
            # ...and that one, too, runs at normal priority (the worker raises it).
            status, r = svc.run("import os\nprint('still served', os.sched_getscheduler(0) == os.SCHED_OTHER)")
            self.assertEqual((status, r["status"], r["stdout"]), (200, "ok", "still served True\n"), r)
            # The warning says what was wrong with it: its init, dying or gone.
            self.assertRegex(svc.logs(), r"prepared sandbox unusable \(its init (has exited|has gone|is exiting"
                                         r"|has a SIGKILL pending|is in state [ZX]|has left its cgroup)\)")
            pattern = '"sandbox":"(warm full|cold), set up on request"'
            self.assertRegex(svc.logs_matching(pattern), pattern)
        finally:
            svc.stop()

    def test_a_stopped_prepared_program_is_replaced(self):
        # A prepared sandbox whose program is stopped would never answer its
        # request: the request gets one set up on the spot, and the warning
        # names the stopped process. Warm, both prepared sandboxes are
        # stopped: a plain run finds one, a pytest exercise the other.
        svc = Service(workers=1, extra_args=["--images", "full"])
        try:
            svc.run("print(1)")
            warm = svc.mode == "warm"
            inits = prepared_inits(svc.worker_pids()[0], PREPARED_FULL if warm else 1)
            self.assertEqual(len(inits), PREPARED_FULL if warm else 1, "the worker's prepared sandboxes")
            programs = [procfs.prepared_program(init) for init in inits]
            self.assertNotIn(None, programs)
            for program in programs:
                os.kill(program, signal.SIGSTOP)
            status, r = svc.run("print('still served')", timeoutMs=5000)
            self.assertEqual((status, r["status"], r["stdout"]), (200, "ok", "still served\n"), r)
            if warm:
                status, r = svc.run(PYTEST_BODY["code"], PYTEST_BODY["tests"], timeoutMs=10000)
                self.assertEqual((status, r["status"], [t["passed"] for t in r["testResults"]]),
                                 (200, "ok", [True]), r)
            for program in programs:
                self.assertIn(f"prepared sandbox unusable (process {program} is in state T)", svc.logs())
            deadline = time.time() + 10  # retired after the answer, with its whole pid namespace
            while not all(gone(p) for p in programs) and time.time() < deadline:
                time.sleep(0.05)
            for program in programs:
                self.assertTrue(gone(program), f"the stopped program {program} outlived its sandbox")
        finally:
            svc.stop()

    def test_a_zygote_stopped_while_it_starts_leaves_no_folder(self):
        # A zygote writes only into a private folder of /tmp while it imports
        # (matplotlib's font cache, pytest's warm-up module) and removes it
        # when it is ready. One stopped before that (here: its service, while
        # it imports) cannot: the worker removes it (found left by make test:
        # one folder per zygote stopped early).
        before = set(glob.glob("/tmp/pyexec-zygote-*"))
        state = tempfile.mkdtemp(prefix="pyexec-test-", dir="/run")
        svc = subprocess.Popen([PYEXECD, "serve", "--listen", os.path.join(state, "s.sock"), "--state-dir", state,
                                "--workers", "1", "--mode", "warm", "--images", "full"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            folders = []
            deadline = time.time() + 20
            while not folders and time.time() < deadline and svc.poll() is None:
                folders = sorted(set(glob.glob("/tmp/pyexec-zygote-*")) - before)
                time.sleep(0.01)
            self.assertTrue(folders, "no zygote made its private folder")
            worker = procfs.children(svc.pid)[0]
            zygotes = [p for p in procfs.children(worker) if procfs.comm(p) == "pyexec-zygote"]
            self.assertEqual(len(zygotes), 1)
            self.assertTrue(os.path.exists(f"/proc/{zygotes[0]}"), "the zygote was gone before the stop")
            svc.send_signal(signal.SIGTERM)
            svc.wait(timeout=30)
            left = [f for f in folders if os.path.exists(f)]
            self.assertEqual(left, [], "the stopped zygote's private folder is still there")
        finally:
            if svc.poll() is None:
                svc.kill()
                svc.wait()
            subprocess.run(["rm", "-rf", state])

    def test_folders_of_killed_workers_go_at_the_next_start(self):
        # A worker SIGKILLed while its zygote imports (the watchdog, or its
        # master killed) leaves the zygote's folder: the next start removes
        # the root-owned 0700 ones nobody touched for 10 minutes, and only those.
        def folder(mode, age_s):
            name = "/tmp/pyexec-zygote-" + os.urandom(8).hex()[:6]
            os.mkdir(name, 0o700)
            os.chmod(name, mode)
            with open(os.path.join(name, "fontlist-v330.json"), "w") as f:
                f.write("{}")
            t = time.time() - age_s
            os.utime(name, (t, t))
            return name
        left, fresh, loose = folder(0o700, 3600), folder(0o700, 60), folder(0o755, 3600)
        try:
            svc = Service(workers=1, mode="warm")
            try:
                self.assertFalse(os.path.exists(left), "a folder left an hour ago is still there")
                self.assertTrue(os.path.isdir(fresh), "a folder in use (touched a minute ago) was removed")
                self.assertTrue(os.path.isdir(loose), "a folder that is not a zygote's own (0755) was removed")
                self.assertRegex(svc.logs(), r"removed \d+ zygote folders left in /tmp")
            finally:
                svc.stop()
        finally:
            for name in (left, fresh, loose):
                subprocess.run(["rm", "-rf", "--", name])

    def test_a_ready_zygote_leaves_no_folder(self):
        before = set(glob.glob("/tmp/pyexec-zygote-*"))
        svc = Service(workers=1, mode="warm", extra_args=["--images", "split"])
        try:
            status, r = svc.run("import os, matplotlib, matplotlib.style.core as style\n"
                                "print(style.USER_LIBRARY_PATHS[0])\nprint(matplotlib.get_configdir(), matplotlib.get_cachedir())\n"
                                "print(os.path.isdir(matplotlib.get_configdir()))")
            self.assertEqual(status, 200, r)
            self.assertEqual(r["status"], "ok", r)
            named, folders, made = r["stdout"].splitlines()
            self.assertTrue(named.startswith("/tmp/pyexec-zygote-"), r)
            # The name runs can still find (matplotlib's style folder, set
            # at import) says nothing of the host (no pid) ...
            self.assertRegex(os.path.dirname(named), r"^/tmp/pyexec-zygote-[A-Za-z0-9]{6}$")
            # ... and the folder is gone once the zygote is ready.
            self.assertFalse(os.path.exists(os.path.dirname(named)))
            self.assertEqual(set(glob.glob("/tmp/pyexec-zygote-*")) - before, set())
            # matplotlib's config and cache folders are the run's own, as in
            # a cold run, not the removed one.
            self.assertEqual((folders, made), ("/tmp/.config/matplotlib /tmp/.cache/matplotlib", "True"), r)
        finally:
            svc.stop()

    def test_a_cold_sandbox_still_being_prepared_is_waited_for(self):
        # A cold sandbox is prepared after the answer, in the background: a
        # request that follows at once finds it still setting up (its init
        # has not forked the program yet). That one is used when ready, not
        # thrown away as broken and set up again (found by make soak).
        svc = Service(workers=1, mode="cold")
        try:
            for i in range(10):
                status, r = svc.run(f"print({i})")
                self.assertEqual((status, r["stdout"]), (200, f"{i}\n"), r)
            served = []
            deadline = time.time() + 5  # each request's line is logged just after its answer
            while len(served) < 10 and time.time() < deadline:
                svc.log.flush()
                with open(svc.log_path) as f:
                    logs = f.read()
                served = re.findall('"sandbox":"cold, ([^"]*)"', logs)
            self.assertNotIn("prepared sandbox unusable", logs)
            self.assertEqual(served[1:], ["prepared"] * 9, logs[-3000:])
        finally:
            svc.stop()

    def test_fastcgi_over_tcp(self):
        svc = Service(workers=1, tcp=True)
        try:
            status, r = svc.run("print('over tcp')")
            self.assertEqual((status, r["stdout"]), (200, "over tcp\n"))
        finally:
            svc.stop()

    def test_tcp_peers_not_on_the_allow_list_are_refused(self):
        """nginx connects from 127.0.0.1, which --allow-from leaves out: pyexecd
        closes the connection unread and nginx answers 502."""
        svc = Service(workers=1, tcp=True, mode="cold", extra_args=["--allow-from", "10.9.8.7/32"])
        try:
            status, headers, data = svc.request("POST", "/run", {"code": "print(1)"})
            self.assertEqual(status, 502, data)
            self.assertEqual(json.loads(data)["error"]["code"], "executor_unavailable")
        finally:
            svc.stop()

    def connect_fastcgi(self, svc):
        host, port = svc.socket.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=15)
        return sock

    def test_an_idle_fastcgi_peer_does_not_pin_the_worker(self):
        """A peer that connects and sends nothing holds the only worker for
        the read timeout at most."""
        svc = Service(workers=1, tcp=True, extra_args=["--read-timeout-ms", "500"])
        try:
            idle = self.connect_fastcgi(svc)
            idle.sendall(fastcgi.head(length=100))  # and then no body
            time.sleep(0.2)
            t0 = time.time()
            status, r = svc.run("print('after')")
            self.assertEqual((status, r["stdout"]), (200, "after\n"))
            self.assertLess(time.time() - t0, 10)
            answer = fastcgi.read_response(idle)
            self.assertEqual(answer and answer[0], 400, answer)  # "did not arrive in full"
            idle.close()
        finally:
            svc.stop()

    def test_a_body_past_the_cap_is_not_read_on(self):
        """A peer that sends body without end straight to pyexecd (nginx stops
        at 2 MiB itself): the worker stops reading at the cap and answers 413
        instead of reading on for as long as the peer sends."""
        import threading
        svc = Service(workers=1, tcp=True)
        try:
            sock = self.connect_fastcgi(svc)
            sock.sendall(fastcgi.head(length=1 << 40))
            chunk = fastcgi.record(fastcgi.STDIN, b"x" * 65535)

            def flood():
                try:
                    for _ in range(100000):  # 6.5 GB: far more than anyone reads
                        sock.sendall(chunk)
                except OSError:
                    pass
            sender = threading.Thread(target=flood, daemon=True)
            sender.start()
            answer = fastcgi.read_response(sock)
            sock.close()
            self.assertIsNotNone(answer, "no answer while the peer kept sending")
            self.assertEqual(answer[0], 413, answer)
            status, r = svc.run("print('next')")
            self.assertEqual((status, r["stdout"]), (200, "next\n"))
        finally:
            svc.stop()

    def beside_a_slow_run(self, svc, request):
        """request()'s result, sent while the only worker runs a 1.5 s program."""
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(svc.run, "import time\ntime.sleep(1.5)", None, timeoutMs=5000)
            time.sleep(0.3)
            result = request()
            self.assertEqual(slow.result(timeout=30)[0], 200)
        return result

    def test_overloaded(self):
        svc = Service(workers=1, extra_args=["--queue-timeout-ms", "300"])
        try:
            status, headers, data = self.beside_a_slow_run(
                svc, lambda: svc.request("POST", "/run", {"code": "print(1)"}))
            self.assertEqual(status, 503)
            self.assertEqual(json.loads(data)["error"]["code"], "overloaded")
            self.assertEqual(headers.get("Retry-After"), "1")
            self.assertEqual(svc.run("print(2)")[1]["stdout"], "2\n")
        finally:
            svc.stop()

    def test_queue_timeout_zero_turns_admission_control_off(self):
        svc = Service(workers=1, extra_args=["--queue-timeout-ms", "0"])
        try:
            status, r = self.beside_a_slow_run(svc, lambda: svc.run("print(1)"))  # waits instead of a 503
            self.assertEqual((status, r["stdout"]), (200, "1\n"))
        finally:
            svc.stop()

    def test_rate_limit_when_enabled(self):
        svc = Service(workers=2, rate_limit=True)
        try:
            # Requests pyexecd rejects at once (400), so that they come faster
            # than 10/s plus the burst of 20 however loaded the machine is.
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda _: svc.request("POST", "/run", {"code": 1}), range(60)))
            self.assertEqual({r[0] for r in results} - {400, 429}, set())
            limited = [r for r in results if r[0] == 429]
            self.assertTrue(limited, [r[0] for r in results])
            body = json.loads(limited[0][2])
            self.assertEqual(body["error"]["code"], "rate_limited")
            self.assertTrue(body["requestId"])
        finally:
            svc.stop()


class StartupRefusals(unittest.TestCase):
    def serve(self, *args):
        state = tempfile.mkdtemp(dir="/run")
        p = subprocess.run([PYEXECD, "serve", "--listen", os.path.join(state, "s.sock"), "--state-dir", state, *args],
                           capture_output=True, text=True, timeout=30)
        subprocess.run(["rm", "-rf", state])
        return p

    def test_bad_profile_stops_startup(self):
        bad = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        bad.write('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOPE"}]}')
        bad.close()
        p = self.serve("--seccomp-profile", bad.name)
        os.unlink(bad.name)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(bad.name, p.stderr)
        self.assertIn("syscalls[0].action", p.stderr)

    def test_refuses_a_host_users_uid(self):
        """uid 2 is Debian's `bin`: its processes could signal the runs."""
        p = self.serve("--uid", "2", "--gid", "60000", "--workers", "1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("uid 2 is host user 'bin'", p.stderr)
        self.assertIn("--allow-host-uids", p.stderr)
        p = self.serve("--uid", "60000", "--gid", "3", "--workers", "1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("gid 3 is host group 'sys'", p.stderr)

    def test_bad_option(self):
        p = self.serve("--uid", "0")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--uid", p.stderr)

    def test_check_profile_reads_docker_default(self):
        fixture = os.path.join(ROOT, "tests", "fixtures", "docker-default-seccomp.json")
        p = subprocess.run([PYEXECD, "check-profile", fixture], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ok", p.stdout)

    def test_unknown_syscalls_are_named(self):
        """A call this libseccomp does not know is left out of the filter: check-profile
        and serve's start-up log say which."""
        profile = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        profile.write(open(os.path.join(ROOT, "seccomp-profiles", "python.json")).read().replace(
            '"getpid",', '"getpid", "no_such_syscall_42",', 1))
        profile.close()
        try:
            p = subprocess.run([PYEXECD, "check-profile", profile.name], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("note: ", p.stdout)
            self.assertIn('"no_such_syscall_42" is unknown to this libseccomp', p.stdout)
            svc = Service(workers=1, mode="cold", extra_args=["--seccomp-profile", profile.name])
            try:
                self.assertIn("no_such_syscall_42", svc.logs())
            finally:
                svc.stop()
        finally:
            os.unlink(profile.name)

    def test_cli_run(self):
        state = tempfile.mkdtemp(dir="/run")
        p = subprocess.run([PYEXECD, "run", "-", "--state-dir", state],
                           input="import sys\nprint('cli')\nsys.exit(3)\n", capture_output=True, text=True, timeout=60)
        subprocess.run(["rm", "-rf", state])
        self.assertEqual((p.returncode, p.stdout), (3, "cli\n"))

    def test_cli_run_with_tests_and_json(self):
        state = tempfile.mkdtemp(dir="/run")
        with tempfile.TemporaryDirectory() as d:
            prog, tests, stdin = (os.path.join(d, n) for n in ("p.py", "t.json", "in.txt"))
            open(prog, "w").write("name = input()\nprint('hi', name)\n")
            json.dump([{"type": "output", "expected": "hi ada"}, {"type": "variable_value", "name": "name",
                                                                  "expected": "bob"}], open(tests, "w"))
            open(stdin, "w").write("ada\n")
            p = subprocess.run([PYEXECD, "run", prog, "--tests", tests, "--stdin", stdin, "--json", "--state-dir", state],
                               capture_output=True, text=True, timeout=60)
        subprocess.run(["rm", "-rf", state])
        self.assertEqual(p.returncode, 1, p.stderr)  # a test failed: the same exit code as without --json
        answer = json.loads(p.stdout)
        self.assertEqual([t["passed"] for t in answer["testResults"]], [True, False])
        self.assertEqual(answer["stdout"], "hi ada\n")

    def test_version_and_help(self):
        self.assertIn("1.0.0", subprocess.run([PYEXECD, "--version"], capture_output=True, text=True).stdout)
        self.assertIn("--timeout-ms", subprocess.run([PYEXECD, "--help"], capture_output=True, text=True).stdout)


if __name__ == "__main__":
    import pyunit
    pyunit.main("lifecycle", globals())
