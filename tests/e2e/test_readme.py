"""The README's commands, run as a newcomer would run them: every command of
every ```sh block is either run here (against a real service, the CLI, make)
or listed in NOT_RUN with the reason, and test_every_command_is_accounted_for
fails when a new command is neither. What a README command is shown to print
(the "# ..." lines under it) is compared with what it prints.

Changes made to a command before it runs: localhost:8080 becomes this suite's
port, build/ the BUILD folder, and `pyexecd run` and `bench-setup` get a
temporary --state-dir (the default /run/pyexecd belongs to a real service);
`bench-setup 200` runs 20 times, to save half a minute."""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from service import BUILD, ROOT, Service, free_port  # noqa: E402

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
BODIES = re.findall(r"curl -s localhost:8080/run(?: -H '[^']*')? -d '(\{.*?\})'", README, re.S)

# Commands not run here, and why. Everything else in a ```sh block is run.
NOT_RUN = {
    r"^make test$": "it is the suite that runs this test",
    r"^docker (build|run) ": "no Docker engine on this machine (test_entrypoint.py runs the entry point instead)",
    r"^systemctl ": "systemd is not pid 1 on this machine (the unit is checked with systemd-analyze verify)",
    r"^ln -s /etc/nginx/sites-available/pyexec.conf /etc/nginx/sites-enabled/":
        "it would change this host's nginx; nginx -t checks Debian's nginx.conf with the site in its place",
}
# Commands run by a test of their own below (the rest: by test_every_command_runs).
OWN_TEST = {
    r"^make run$": "test_make_run_with_settings (the same target)",
    r"^PORT=\d+ PYEXECD_ARGS=.* make run$": "test_make_run_with_settings",
    r"^make install$": "test_make_install_into_destdir, test_installed_binary_serves",
}


def sh_commands(text):
    """[(command, inline comment, [lines shown under it])] of the ```sh blocks.
    A command ends at a newline outside quotes (a trailing backslash joins
    lines); "# ..." lines right after it are what it prints."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        buf, comment, quote, in_comment, i = "", "", None, False, 0
        while i < len(block):
            c = block[i]
            if in_comment and c != "\n":
                comment += c
            elif quote:
                buf += c
                quote = None if c == quote else quote
            elif c in "'\"":
                quote, buf = c, buf + c
            elif c == "#" and (not buf or buf[-1] in " \t"):
                in_comment = True
            elif c == "\\" and block[i + 1:i + 2] == "\n":
                buf, i = buf + " ", i + 1
            elif c == "\n":
                text_ = comment[1:] if comment.startswith(" ") else comment
                if buf.strip():
                    found.append((re.sub(r"\s+", " ", buf.strip()) if "'" not in buf else buf.strip(),
                                  text_.strip(), []))
                elif in_comment and found:
                    found[-1][2].append(text_.rstrip())
                buf, comment, in_comment = "", "", False
            else:
                buf += c
            i += 1
    return found


COMMANDS = sh_commands(README)


def clean_env():
    """The environment for a nested make: not the one `make test` runs in."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env["BUILD"] = BUILD
    return env


def shell(command, timeout=180, **kw):
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, **kw)


svc = None


def setUpModule():
    global svc
    svc = Service(workers=1, mode="warm")  # the README's outputs are the default mode's


def tearDownModule():
    svc.stop()


class ReadmeCommands(unittest.TestCase):
    def test_every_command_is_accounted_for(self):
        self.assertGreaterEqual(len(COMMANDS), 20, "the README's commands were not found")
        handled = list(NOT_RUN) + list(OWN_TEST) + [r"^curl ", r"^(echo .* \| )?build/pyexecd "]
        for command, _, _ in COMMANDS:
            self.assertTrue(any(re.search(p, command) for p in handled), f"README command not run by a test: {command}")
        for command, _, _ in COMMANDS:
            reason = next((r for p, r in NOT_RUN.items() if re.search(p, command)), None)
            if reason:
                print(f"  not run: {command[:70]}: {reason}")

    def test_every_command_runs(self):
        ran = 0
        with tempfile.TemporaryDirectory(dir="/run", prefix="pyexec-test-") as state:
            for command, comment, shown in COMMANDS:
                if command.startswith("curl "):
                    self.check_curl(command, comment, shown)
                elif re.search(r"^(echo .* \| )?build/pyexecd ", command):
                    self.check_cli(command, comment, shown, state)
                else:
                    continue
                ran += 1
        self.assertGreaterEqual(ran, 15)

    def check_curl(self, command, comment, shown):
        p = shell(command.replace("localhost:8080", f"localhost:{svc.port}"), timeout=60)
        self.assertEqual(p.returncode, 0, (command, p.stderr))
        lines = [line.rstrip("\r") for line in p.stdout.split("\n")]
        if re.search(r"curl -s[iI] ", command):  # the status line and headers
            if shown:
                self.assertEqual(lines[0], shown[0], command)
            if comment:
                code, *header = comment.split(", ", 1)
                self.assertIn(f" {code} ", lines[0] + " ", command)
                if header:
                    self.assertIn(header[0].lower(), [line.lower() for line in lines], command)
        elif shown:
            self.assertEqual(p.stdout.rstrip("\n").split("\n"), shown, command)
        elif "/run" in command:
            self.assertEqual(json.loads(p.stdout)["status"] in ("ok", "error"), True, command)
        else:
            self.assertEqual(json.loads(p.stdout)["status"], "healthy", command)

    def check_cli(self, command, comment, shown, state):
        command = command.replace("build/pyexecd", shlex.quote(os.path.join(BUILD, "pyexecd")))
        command = re.sub(r"pyexecd run ", f"pyexecd run --state-dir {state} ", command)
        command = re.sub(r"pyexecd bench-setup 200", f"pyexecd bench-setup 20 --state-dir {state}", command)
        p = shell(command)
        exits = re.search(r"exits (\d+)", comment)
        self.assertEqual(p.returncode, int(exits.group(1)) if exits else 0, (command, p.stdout, p.stderr))
        if shown:
            self.assertEqual(p.stdout.rstrip("\n").split("\n"), shown, command)
        elif "bench-setup" in command:
            self.assertIn("Sandbox set-up, warm mode, median of 20 runs", p.stdout)
        elif "--help" in command:
            self.assertIn("--listen", p.stdout)

    def test_every_run_example_runs(self):
        self.assertGreaterEqual(len(BODIES), 4, "the README's /run examples were not found")
        for body in BODIES:
            status, _, data = svc.request("POST", "/run", body)
            self.assertEqual(status, 200, (body, data))
            r = json.loads(data)
            # Examples show passing tests, except the one that shows a traceback.
            if r["testResults"]:
                self.assertTrue(r["allPassed"], (body, r["testResults"]))
            elif "a / b" not in body:
                self.assertEqual(r["status"], "ok", (body, r))

    def test_hello_world_example_answers_as_shown(self):
        status, r = svc.run('print("Hello, World!")',
                            [{"type": "output", "expected": "Hello, World!", "description": "Should print Hello, World!"}])
        self.assertEqual(r["testResults"], [{"type": "output", "description": "Should print Hello, World!",
                                             "passed": True, "expected": "Hello, World!", "actual": "Hello, World!"}])

    def test_dataframe_is_compared_by_repr_as_documented(self):
        code = 'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2]})\n'
        _, r = svc.run(code, [{"type": "variable_value", "name": "df", "expected": "   a\n0  1\n1  2"},
                              {"type": "variable_value", "name": "df", "expected": [[1], [2]]}])
        self.assertEqual([t["passed"] for t in r["testResults"]], [True, False], r)
        self.assertIn('`pd.DataFrame({"a": [1, 2]})` equals `"   a\\n0  1\\n1  2"`', README)


class MakeTargets(unittest.TestCase):
    def test_make_run_with_settings(self):
        command = next(c for c, _, _ in COMMANDS if re.search(OWN_TEST_RUN, c))
        port = free_port()
        command = re.sub(r"^PORT=\d+", f"PORT={port}", command)
        log = tempfile.TemporaryFile()
        # Its own session, so that SIGINT reaches make, serve.sh, pyexecd and
        # nginx together, as Ctrl-C in a terminal does.
        make = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=clean_env(), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            health = self.wait_for_health(port, make)
            self.assertIsNotNone(health, self.output(log))
            self.assertEqual((health["sandbox"]["mode"], health["workers"]["total"]), ("cold", 2))
        finally:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGINT)
            try:
                make.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait()
        self.assertIn("pyexec: stopped", self.output(log))
        self.assertFalse(os.path.exists(f"/run/pyexecd-{port}"), "make run left its state folder")
        self.assertFalse(os.path.exists(os.path.join(BUILD, f"nginx-{port}")), "make run left its nginx folder")

    @staticmethod
    def wait_for_health(port, make, seconds=300):
        import http.client
        deadline = time.time() + seconds  # make deps and an up-to-date check first
        while time.time() < deadline and make.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/health")
                resp = conn.getresponse()
                if resp.status == 200:
                    return json.loads(resp.read())
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        return None

    @staticmethod
    def output(log):
        log.seek(0)
        return log.read().decode(errors="replace")[-4000:]

    def make(self, *args):
        p = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, env=clean_env(),
                           capture_output=True, text=True, timeout=900)
        self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr[-2000:])

    def test_make_install_into_destdir(self):
        with tempfile.TemporaryDirectory() as d:
            self.make("install", f"DESTDIR={d}")
            binary = os.path.join(d, "usr/local/bin/pyexecd")
            self.assertTrue(os.access(binary, os.X_OK))
            for installed, source in (("usr/local/share/pyexec/seccomp-profiles/python.json",
                                       "seccomp-profiles/python.json"),
                                      ("etc/nginx/sites-available/pyexec.conf", "nginx/pyexec.conf")):
                self.assertEqual(open(os.path.join(d, installed), "rb").read(),
                                 open(os.path.join(ROOT, source), "rb").read(), installed)
            unit = open(os.path.join(d, "etc/systemd/system/pyexecd.service")).read()
            self.assertIn("\nExecStart=/usr/local/bin/pyexecd serve --socket-group www-data\n", unit)
            self.assertIn("\nDelegate=yes\n", unit)
            self.make("uninstall", f"DESTDIR={d}")
            left = [os.path.join(r, f) for r, _, files in os.walk(d) for f in files]
            self.assertEqual(left, [])

    def test_readme_unit_lines_are_the_units(self):
        unit = open(os.path.join(ROOT, "systemd", "pyexecd.service")).read().split("\n")
        blocks = re.findall(r"```ini\n(.*?)```", README, re.S)
        self.assertTrue(blocks)
        for line in blocks[0].strip().split("\n"):
            self.assertIn(line, unit)

    def install_under(self, d):
        """make install with every path under d (PREFIX too): the unit names the real binary."""
        self.make("install", f"PREFIX={d}/usr/local", f"NGINXDIR={d}/etc/nginx/sites-available",
                  f"UNITDIR={d}/etc/systemd/system")
        return open(os.path.join(d, "etc/systemd/system/pyexecd.service")).read()

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_installed_unit_passes_systemd_analyze_verify(self):
        with tempfile.TemporaryDirectory() as d:
            self.install_under(d)
            p = subprocess.run(["systemd-analyze", "verify", os.path.join(d, "etc/systemd/system/pyexecd.service")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_installed_binary_serves(self):
        """The unit's ExecStart, with no --seccomp-profile, from outside the
        checkout: the binary finds the installed profile."""
        with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as elsewhere:
            unit = self.install_under(d)
            argv = shlex.split(re.search(r"^ExecStart=(.*)$", unit, re.M).group(1))
            self.assertEqual(argv[:2], [os.path.join(d, "usr/local/bin/pyexecd"), "serve"])
            installed = Service(workers=1, mode="cold", binary=argv[0], extra_args=argv[2:], cwd=elsewhere)
            try:
                status, _, _ = installed.request("HEAD", "/health")
                self.assertEqual(status, 200, installed.logs())
            finally:
                installed.stop()

    @unittest.skipUnless(os.path.exists("/etc/nginx/nginx.conf"), "no Debian nginx.conf on this machine")
    def test_site_in_debians_nginx_conf(self):
        """The README's `ln -s` into sites-enabled, as nginx -t sees it."""
        conf = open("/etc/nginx/nginx.conf").read()
        include = "include /etc/nginx/sites-enabled/*;"
        self.assertIn(include, conf)
        with tempfile.TemporaryDirectory() as d:
            self.make("install", f"DESTDIR={d}")
            site = os.path.join(d, "etc/nginx/sites-available/pyexec.conf")
            path = os.path.join(d, "nginx.conf")
            open(path, "w").write(conf.replace(include, f"include {site};"))
            p = subprocess.run(["nginx", "-t", "-c", path], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)


OWN_TEST_RUN = r"^PORT=\d+ PYEXECD_ARGS=.* make run$"

if __name__ == "__main__":
    import pyunit
    pyunit.main("readme", globals())
