"""pyexecd's command line does what its help says: every command answers
--help without doing anything else, `run` exits with the documented codes
(also when a test fails), reads tests in both documented shapes, and
`bench-setup` prints a table for people and JSON for make bench."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from service import PYEXECD  # noqa: E402

TESTS = [{"type": "output", "expected": "6"}, {"type": "variable_value", "name": "total", "expected": 6}]


def pyexecd(*args, stdin=None, timeout=120):
    """Runs pyexecd with its runtime files in a fresh folder (never /run/pyexecd)."""
    state = tempfile.mkdtemp(prefix="pyexec-test-", dir="/run")
    try:
        needs_state = args[0] in ("run", "bench-setup") and "--help" not in args
        extra = ["--state-dir", state] if needs_state else []
        return subprocess.run([PYEXECD, *args, *extra], input=stdin, capture_output=True, text=True, timeout=timeout)
    finally:
        subprocess.run(["rm", "-rf", state])


class Help(unittest.TestCase):
    def test_every_command_answers_help_and_does_nothing_else(self):
        for command in ("serve", "run", "bench-setup", "check-profile"):
            for flag in ("--help", "-h"):
                p = pyexecd(command, flag, timeout=10)
                self.assertEqual(p.returncode, 0, (command, p.stderr))
                self.assertTrue(p.stdout.startswith(f"usage: pyexecd {command}"), (command, p.stdout))
                self.assertEqual(p.stderr, "", command)

    def test_serve_help_lists_every_setting(self):
        out = pyexecd("serve", "--help").stdout
        for option in ("--listen", "--workers", "--mode", "--seccomp-profile", "--config", "--uid"):
            self.assertIn(option, out)

    def test_run_help_documents_the_exit_codes(self):
        out = pyexecd("run", "--help").stdout
        for line in ("the program exited 0 but a test failed", "124", "128+N", "125"):
            self.assertIn(line, out)

    def test_bench_setup_help_runs_no_benchmark(self):
        p = pyexecd("bench-setup", "--help", timeout=10)
        self.assertNotIn("median of", p.stdout)
        self.assertNotIn("{", p.stdout)


class RunExitCodes(unittest.TestCase):
    def run_code(self, code, tests=None, *args):
        with tempfile.TemporaryDirectory() as d:
            prog = os.path.join(d, "main.py")
            open(prog, "w").write(code)
            extra = []
            if tests is not None:
                extra = ["--tests", os.path.join(d, "tests.json")]
                open(extra[1], "w").write(tests if isinstance(tests, str) else json.dumps(tests))
            return pyexecd("run", prog, *extra, "--mode", "cold", *args)

    def test_passing_tests_exit_0(self):
        p = self.run_code("total = 1 + 2 + 3\nprint(total)\n", TESTS)
        self.assertEqual((p.returncode, p.stdout), (0, "6\n"), p.stderr)
        self.assertIn("2 of 2 tests passed", p.stderr)

    def test_a_failed_test_exits_1_and_says_which(self):
        p = self.run_code("total = 7\nprint(6)\n", TESTS)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("FAIL tests[1] variable_value: expected 6, got 7", p.stderr)
        self.assertIn("1 of 2 tests passed", p.stderr)

    def test_a_failed_test_exits_1_with_json_too(self):
        p = self.run_code("total = 7\nprint(6)\n", TESTS, "--json")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual([t["passed"] for t in json.loads(p.stdout)["testResults"]], [True, False])
        self.assertNotIn("FAIL", p.stderr)  # the JSON says it

    def test_the_programs_own_exit_code_wins(self):
        self.assertEqual(self.run_code("import sys\ntotal = 6\nprint(6)\nsys.exit(5)\n", TESTS).returncode, 5)
        self.assertEqual(self.run_code("print(1/0)\n").returncode, 1)
        self.assertEqual(self.run_code("print(\n").returncode, 1)

    def test_timeout_exits_124(self):
        p = self.run_code("while True:\n    pass\n", None, "--timeout-ms", "300")
        self.assertEqual(p.returncode, 124, p.stderr)
        self.assertIn("timed out after 300 ms", p.stderr)

    def test_a_signal_exits_128_plus_its_number(self):
        self.assertEqual(self.run_code("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n").returncode, 128 + 15)

    def test_memory_limit_exits_137(self):
        p = self.run_code("b = b'x' * (1 << 30)\n", None, "--timeout-ms", "10000")
        self.assertEqual(p.returncode, 137, p.stderr)
        self.assertIn("memory limit", p.stderr)

    def test_tests_file_as_array_or_object(self):
        for tests in (TESTS, {"tests": TESTS}):
            p = self.run_code("total = 6\nprint(total)\n", tests)
            self.assertEqual(p.returncode, 0, (tests, p.stderr))

    def test_bad_tests_file_exits_125_and_names_the_field(self):
        cases = {
            "[{\"type\": \"magic\"}]": "tests[0].type",
            "{\"tests\": [], \"code\": \"print(1)\"}": "tests file must hold a JSON array of tests",
            "{\"type\": \"output\"}": "tests file must hold a JSON array of tests",
            "[1,": "tests file is not valid JSON",
        }
        for text, message in cases.items():
            p = self.run_code("print(1)\n", text)
            self.assertEqual(p.returncode, 125, (text, p.stderr))
            self.assertIn(message, p.stderr, text)
            self.assertEqual(p.stdout, "", text)  # nothing ran

    def test_unreadable_file_exits_125(self):
        p = pyexecd("run", "/nonexistent/main.py", "--mode", "cold")
        self.assertEqual(p.returncode, 125)
        self.assertIn("cannot read /nonexistent/main.py", p.stderr)


class BenchSetup(unittest.TestCase):
    def test_table_and_json(self):
        table = pyexecd("bench-setup", "3", "--mode", "cold")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("Sandbox set-up, cold mode, median of 3 runs", table.stdout)
        self.assertIn("filesystem (binds, /proc, /dev, /tmp, pivot_root)", table.stdout)
        data = json.loads(pyexecd("bench-setup", "3", "--json", "--mode", "cold").stdout)
        self.assertEqual((data["runs"], data["mode"]), (3, "cold"))
        self.assertGreater(data["sandboxTotalMs"], 0)

    def test_bad_count_is_refused(self):
        for n in ("0", "x", "3x"):
            p = pyexecd("bench-setup", n)
            self.assertEqual(p.returncode, 2, n)
            self.assertIn("usage: pyexecd bench-setup", p.stderr)


if __name__ == "__main__":
    import pyunit
    pyunit.main("cli", globals())
