"""tools/docker-entrypoint.sh, run the way the image runs it but on this host
(Docker cannot run here): tini as pid 1 of a new pid namespace, so that, as in
a container, whatever is left when tini exits is killed by the kernel.
pyexecd and nginx are served together, and when either exits the other is
stopped and the "container" ends."""
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from service import PYEXECD, ROOT, free_port  # noqa: E402

ENTRYPOINT = os.path.join(ROOT, "tools", "docker-entrypoint.sh")
TINI = shutil.which("tini")


def children(pid):
    """{comm: pid} of pid's children."""
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {comm: int(p) for p, comm in (line.split(None, 1) for line in out.splitlines())}


class Container:
    """tini -- docker-entrypoint.sh with the image's paths moved to a temporary folder."""

    def __init__(self):
        self.state = tempfile.mkdtemp(prefix="pyexec-test-", dir="/run")
        os.chmod(self.state, 0o755)
        self.port = free_port()
        prefix = os.path.join(self.state, "nginx")
        subprocess.check_call([os.path.join(ROOT, "tools", "nginx-conf.sh"), prefix, str(self.port),
                               os.path.join(self.state, "pyexecd.sock")], stdout=subprocess.DEVNULL)
        env = {**os.environ, "PYEXECD": PYEXECD, "PYEXEC_SOCKET_DIR": self.state, "PYEXEC_REMOUNT_CGROUP": "no",
               "PYEXEC_NGINX_ARGS": f"-p {prefix} -c {prefix}/nginx.conf -e stderr"}
        self.log = open(os.path.join(self.state, "log"), "wb")
        # unshare exits with tini's status; --kill-child: tini dies with it.
        self.unshare = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", TINI, "--", ENTRYPOINT,
                                         "--state-dir", self.state, "--workers", "1", "--mode", "cold"],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline and self.head_health() != 200:
            if self.unshare.poll() is not None:
                break
            time.sleep(0.1)
        self.tini_pid = children(self.unshare.pid).get("tini")

    def head_health(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            conn.request("HEAD", "/health")
            status = conn.getresponse().status
            conn.close()
            return status
        except OSError:
            return None

    def processes(self):
        """{comm: pid} of the entry point's children (pyexecd and nginx)."""
        script = next(iter(children(self.tini_pid).values()))
        return children(script)

    def wait(self):
        return self.unshare.wait(timeout=40)

    def output(self):
        self.log.flush()
        return open(os.path.join(self.state, "log"), "rb").read().decode(errors="replace")[-3000:]

    def stop(self):
        if self.unshare.poll() is None:
            os.kill(self.tini_pid, signal.SIGTERM)
            try:
                self.unshare.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.unshare.kill()  # and, through --kill-child, the whole namespace
                self.unshare.wait()
        self.log.close()
        shutil.rmtree(self.state, ignore_errors=True)


@unittest.skipIf(TINI is None, "tini is not installed (packages.txt lists it: run make deps)")
class Entrypoint(unittest.TestCase):
    def setUp(self):
        self.c = Container()
        self.assertIsNotNone(self.c.tini_pid, self.c.output())
        self.assertEqual(self.c.head_health(), 200, self.c.output())
        self.procs = self.c.processes()
        self.assertIn("pyexecd", self.procs, self.c.output())
        self.assertIn("nginx", self.procs, self.c.output())

    def tearDown(self):
        self.c.stop()

    def assert_all_gone(self):
        self.assertIsNone(self.c.head_health(), "nginx still answers")
        for name, pid in self.procs.items():
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"{name} ({pid}) still runs")

    def test_pyexecd_exit_stops_nginx_and_the_container(self):
        os.kill(self.procs["pyexecd"], signal.SIGTERM)
        self.assertEqual(self.c.wait(), 1, self.c.output())
        self.assertIn("pyexecd exited; stopping the other", self.c.output())
        self.assert_all_gone()

    def test_nginx_exit_stops_pyexecd_and_the_container(self):
        os.kill(self.procs["nginx"], signal.SIGKILL)
        self.assertEqual(self.c.wait(), 1, self.c.output())
        self.assertIn("nginx exited; stopping the other", self.c.output())
        self.assert_all_gone()

    def test_docker_stop_stops_both_cleanly(self):
        os.kill(self.c.tini_pid, signal.SIGTERM)  # what `docker stop` sends to pid 1
        self.assertEqual(self.c.wait(), 0, self.c.output())
        self.assert_all_gone()


if __name__ == "__main__":
    import pyunit
    pyunit.main("entrypoint", globals())
