"""Warm mode's images (--images split, the default): a program that
imports only the standard library forks a lean interpreter, a pytest
exercise that imports only the standard library and pytest the lean one with
pytest (started by the worker's first such exercise), anything else the full
one (numpy, pandas, matplotlib, pytest). Judged from outside: what the
program finds imported, how pyexecd's log says it was served, the zygote
processes, and answers that stay right whichever image ran them."""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import procfs  # noqa: E402
from service import Service  # noqa: E402

svc = None
AT_START = {}  # comm: pid of the worker's zygotes once the service is up
LEAN = '"sandbox":"warm lean, prepared"'
FULL = '"sandbox":"warm full, prepared"'
PROBE = "import sys\nprint('numpy' in sys.modules, 'pandas' in sys.modules)\n"


def setUpModule():
    global svc
    svc = Service(workers=1, mode="warm")
    AT_START.update(zygotes(svc.worker_pids()[0]))


def tearDownModule():
    svc.stop()


def zygotes(worker):
    """{comm: pid} of the worker's zygotes."""
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(worker)], capture_output=True, text=True)
    return {line.split()[1]: int(line.split()[0]) for line in out.stdout.splitlines()
            if line.split()[1:] and line.split()[1].startswith("pyexec-zyg")}


def served(code, **fields):
    """(answer, how the log says it was served): the last log line's sandbox."""
    status, r = svc.run(code, **fields)
    assert status == 200, (status, r)
    rid = r["requestId"]
    logs = svc.logs_matching(rid)
    line = next((l for l in logs.splitlines() if rid in l), "")
    sandbox = line.split('"sandbox":"', 1)[1].split('"', 1)[0] if '"sandbox":"' in line else None
    return r, sandbox


def private_dirty_kib(pid):
    """The pages pid holds of its own (written since the fork), KiB."""
    for line in (procfs.read(f"/proc/{pid}/smaps_rollup") or "").splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    return 0


EXERCISE = dict(tests=[{"type": "pytest", "code": "from main import add\n\ndef test_a():\n"
                                                  "    assert add(1, 2) == 3\n"}], timeoutMs=10000)
ADD = "def add(a, b):\n    return a + b\n"


def pytest_image_ready():
    """Serves pytest exercises until one is served by a prepared sandbox of
    the pytest image (the worker starts that zygote at its first one)."""
    deadline = time.time() + 60
    seen = []
    while time.time() < deadline:
        r, how = served(ADD, **EXERCISE)
        assert [t["outcome"] for t in r["testResults"]] == ["passed"], r
        seen.append(how)
        if how == "warm pytest, prepared":
            return seen
        time.sleep(0.3)
    raise AssertionError("no pytest exercise was served by the pytest image: %r" % seen)


def kill_zygote(worker, name):
    """SIGKILLs the worker's zygote `name` and waits until it is gone;
    returns its pid."""
    pid = zygotes(worker)[name]
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while procfs.stat_fields(pid) and procfs.stat_fields(pid)[3] not in "ZX" and time.time() < deadline:
        time.sleep(0.02)
    return pid


def assert_replaced(test, worker, name, image, old):
    """After 5 s and a request, the worker has started a new zygote `name`
    (not pid `old`) and logged that it restarted it."""
    time.sleep(5.2)  # a broken zygote is replaced after 5 s, on the next request
    svc.run("pass")
    deadline = time.time() + 60
    while zygotes(worker).get(name, old) == old and time.time() < deadline:
        time.sleep(0.2)
    test.assertIn(name, zygotes(worker))
    test.assertNotEqual(zygotes(worker)[name], old)
    message = f"restarting the warm {image} zygote"
    test.assertIn(message, svc.logs_matching(message))


class Images(unittest.TestCase):
    def test_a_worker_has_a_lean_and_a_full_zygote(self):
        self.assertEqual(sorted(AT_START), ["pyexec-zyg-lean", "pyexec-zygote"])
        self.assertEqual(svc.health()["sandbox"]["mode"], "warm")

    def test_a_pytest_exercise_of_the_standard_library_forks_the_pytest_image(self):
        # The worker's first one starts the pytest zygote (and is served by
        # the full image meanwhile); once it is ready, such exercises fork
        # it: pytest is there, numpy and pandas are not. One whose test
        # module imports numpy forks the full image.
        seen = pytest_image_ready()
        self.assertTrue(all(h in ("warm full with pytest's pages, prepared", "warm pytest, prepared") for h in seen),
                        seen)
        worker = svc.worker_pids()[0]
        self.assertEqual(sorted(zygotes(worker)), ["pyexec-zyg-lean", "pyexec-zyg-pyt", "pyexec-zygote"])
        self.assertEqual(zygotes(worker)["pyexec-zygote"], AT_START["pyexec-zygote"])
        module = ("import sys\nfrom main import add\n\ndef test_modules():\n"
                  "    assert add(1, 2) == 3\n"
                  "    print(sorted(m for m in ('numpy', 'pandas', 'pytest') if m in sys.modules))\n"
                  "    assert 'numpy' not in sys.modules and 'pytest' in sys.modules\n")
        served("print(1)")
        r, how = served(ADD, tests=[{"type": "pytest", "code": module}], timeoutMs=10000)
        self.assertEqual(([t["outcome"] for t in r["testResults"]], how), (["passed"], "warm pytest, prepared"), r)
        served("print(1)")
        heavy = module.replace("import sys\n", "import sys\nimport numpy\n").replace("'numpy' not in", "'numpy' in")
        r, how = served(ADD, tests=[{"type": "pytest", "code": heavy}], timeoutMs=10000)
        self.assertEqual([t["outcome"] for t in r["testResults"]], ["passed"], r)
        self.assertTrue(how.startswith("warm full"), how)

    def test_a_standard_library_program_forks_the_lean_image(self):
        served("print(1)")  # the worker prepares one sandbox per image after this
        r, how = served("import json, os, collections\n" + PROBE)
        self.assertEqual((r["status"], r["stdout"]), ("ok", "False False\n"), r)
        self.assertEqual(how, "warm lean, prepared")

    def test_numpy_or_pandas_forks_the_full_image(self):
        for code in ("import numpy as np\n" + PROBE, "from pandas import DataFrame\n" + PROBE,
                     "import os\n__import__('json')\n" + PROBE):  # a dynamic import: full, whatever it names
            served("print(1)")
            r, how = served(code)
            self.assertEqual((r["status"], r["stdout"]), ("ok", "True True\n"), (code, r))
            self.assertEqual(how, "warm full, prepared", code)

    def test_a_pytest_exercise_has_a_sandbox_of_its_own(self):
        # The third prepared sandbox (of the pytest image once it is ready)
        # has pytest's pages written ahead: pytest exercises take it, other
        # runs never do (they would carry those pages in their memory).
        pytest_image_ready()
        for _ in range(2):
            served("print(1)")
            r, how = served(ADD, **EXERCISE)
            self.assertEqual([t["outcome"] for t in r["testResults"]], ["passed"], r)
            self.assertEqual(how, "warm pytest, prepared")
            r, how = served("import numpy as np\n" + PROBE)
            self.assertEqual((r["stdout"], how), ("True True\n", "warm full, prepared"), r)
        # Its program wrote them before any request: waiting for its input,
        # it holds MiBs more of its own pages than the lean one, whose image
        # is the same but for pytest.
        worker = svc.worker_pids()[0]
        dirty = {}
        deadline = time.time() + 10
        while len(dirty) < 3 and time.time() < deadline:
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(worker)], capture_output=True, text=True)
            programs = [procfs.prepared_program(p) for p in map(int, out.stdout.split()) if procfs.is_sandbox_init(p)]
            dirty = {procfs.comm(int(procfs.status_field(p, "PPid")[0])): private_dirty_kib(p) for p in programs if p}
            time.sleep(0.1)
        self.assertEqual(sorted(dirty), ["pyexec-zyg-lean", "pyexec-zyg-pyt", "pyexec-zygote"], dirty)
        self.assertGreater(dirty["pyexec-zyg-pyt"], dirty["pyexec-zyg-lean"] + 2048, dirty)  # about 5 MiB more

    def test_exercises_fork_the_full_image(self):
        r, how = served("import pandas\ndef add(a, b):\n    return a + b\n", **EXERCISE)
        self.assertEqual([t["outcome"] for t in r["testResults"]], ["passed"], r)
        self.assertTrue(how.startswith("warm full"), how)
        r, how = served("import helper\nprint(helper.x)", files={"helper.py": "x = 7\n"})
        self.assertEqual(r["stdout"], "7\n", r)
        self.assertTrue(how.startswith("warm full"), how)
        # A data file alone: what the code imports decides.
        r, how = served("print(open('data.txt').read())", files={"data.txt": "hi"})
        self.assertEqual(r["stdout"], "hi\n", r)
        self.assertTrue(how.startswith("warm lean"), how)

    def test_a_lean_program_that_hides_an_import_of_pandas_still_works(self):
        # The scan sees no import statement and no __import__/importlib: lean,
        # and pandas is imported in the run itself (as in a cold run).
        code = ("import sys, builtins\nimp = getattr(builtins, '__imp' + 'ort__')\npd = imp('pan' + 'das')\n"
                "print(pd.DataFrame({'a': [1, 2]})['a'].sum(), 'numpy' in sys.modules)\n")
        r, how = served(code, timeoutMs=10000)
        self.assertEqual((r["status"], r["stdout"]), ("ok", "3 True\n"), r)
        self.assertTrue(how.startswith("warm lean"), how)

    def test_answers_are_the_same_in_both_images(self):
        # The same standard-library program through both images: identical
        # stdout, exit code and test verdicts (only timings differ).
        code = ("import sys, math\nx = int(input())\nprint(math.factorial(x))\n"
                "print('err', file=sys.stderr)\ny = [x] * 3\nraise SystemExit(3)\n")
        tests = [{"type": "output", "expected": "120\n"}, {"type": "variable_value", "name": "y", "expected": [5, 5, 5]}]
        lean, how_lean = served(code, stdin="5\n", tests=tests)
        full, how_full = served("import numpy\n" + code, stdin="5\n", tests=tests)
        self.assertTrue(how_lean.startswith("warm lean") and how_full.startswith("warm full"), (how_lean, how_full))
        for key in ("status", "stdout", "stderr", "exitCode"):
            self.assertEqual(lean[key], full[key], key)
        self.assertEqual([t["passed"] for t in lean["testResults"]], [True, True], lean)
        self.assertEqual([t["passed"] for t in full["testResults"]], [True, True], full)

    def test_both_images_write_the_base_working_set_ahead(self):
        # Each zygote learns which of its pages a small run writes (its
        # base warm-up, then the harness itself on a hello world), and every
        # warm program writes them ahead in bulk first thing after its fork
        # (embedded_python.cc): by the time the code runs it has, in itself.
        # A probe whose harness did not finish learns nothing (-1 here).
        code = "import sys\nprint(sys.modules['_pyexec_warm'].populated('base'))\n"
        for prefix, image in (("", "warm lean"), ("import numpy\n", "warm full")):
            served("print(1)")
            r, how = served(prefix + code)
            self.assertTrue(how.startswith(image), how)
            self.assertGreater(int(r["stdout"]), 50, r)  # pages; -1 when nothing was learnt

    def test_numpy_and_pandas_programs_write_their_working_sets_ahead(self):
        # The full zygote also learns what a small numpy and a small pandas
        # exercise write; the harness writes the one a program names ahead
        # (pandas covers numpy), and nothing of them for other programs.
        # (The names are split so that this code names neither.)
        sets = "import sys\nw = sys.modules['_pyexec_warm']\nprint(w.populated('num' 'py'), w.populated('pan' 'das'))\n"
        for prefix, numpy_set, pandas_set in (("import pandas\n", False, True), ("import numpy\n", True, False),
                                              ("import json\n", False, False)):
            served("print(1)")
            r, how = served(prefix + sets)
            self.assertTrue(how.startswith("warm"), how)
            numpy_pages, pandas_pages = (int(x) for x in r["stdout"].split())
            self.assertEqual(numpy_pages > 50, numpy_set, r)
            self.assertEqual(pandas_pages > 50, pandas_set, r)
            if not numpy_set:
                self.assertEqual(numpy_pages, 0, r)
            if not pandas_set:
                self.assertEqual(pandas_pages, 0, r)

    def test_a_pytest_module_runs_in_the_zygotes_ready_session(self):
        # The full and pytest zygotes make a pytest session ready up to its first module
        # (src/runner/pytest_warm.py); a run's first module runs in it, a
        # second one in a whole pytest.main, and a working folder with a
        # configuration file in a whole session too. The program itself
        # never finds the ready session in sys.modules. Which path ran is
        # read from the test's own stack: `ready` is the ready session's entry.
        where = ("import inspect\n\ndef test_where():\n"
                 "    names = [f.function for f in inspect.stack()]\n"
                 "    assert 'ready' not in names and 'main' in names\n\n"
                 "def test_reports(pytestconfig):\n"  # the ready session's plugin hands them on
                 "    plugin = pytestconfig.pluginmanager.get_plugin('pyexec-reports')\n"
                 "    assert type(getattr(plugin, 'target', None)).__name__ == 'NoneType'\n")
        pytest_image_ready()
        for prefix, image in (("", "warm pytest, prepared"), ("import numpy\n", "warm full")):
            program = prefix + "import sys\nprint('_pyexec_pytest_ready' in sys.modules)\n"
            served("print(1)")
            r, how = served(program, tests=[{"type": "pytest", "code": where}, {"type": "pytest", "code": where}])
            self.assertTrue(how.startswith(image), how)
            self.assertEqual(r["stdout"], "False\n")
            first, reports, second, second_reports = [t for t in r["testResults"] if t["type"] == "pytest"]
            self.assertEqual(first["outcome"], "failed", first)  # 'ready' was on its stack
            self.assertIn("'ready'", first["message"])
            self.assertEqual(reports["outcome"], "failed", reports)
            self.assertIn("_PyexecPytestReports", reports["message"])  # its target: the run's plugin
            self.assertEqual((second["outcome"], second_reports["outcome"]), ("passed", "passed"), r["testResults"])
            served("print(1)")
            r, how = served(program, tests=[{"type": "pytest", "code": where}], files={"pytest.ini": "[pytest]\n"})
            self.assertTrue(how.startswith(image), how)
            self.assertEqual([t["outcome"] for t in r["testResults"]], ["passed", "passed"], r["testResults"])

    def test_a_pytest_run_writes_the_pytest_working_set_ahead(self):
        # The full and pytest zygotes learn what a run's ready pytest session writes
        # (its probe runs the harness on a small pytest exercise, as a run
        # does; a probe whose harness did not finish learns nothing) and a
        # run with pytest tests writes it ahead before pytest starts.
        module = ("import sys\n\ndef test_written_ahead():\n"
                  "    assert sys.modules['_pyexec_warm'].populated('pytest') > 50\n")
        pytest_image_ready()
        for program, image in (("x = 1\n", "warm pytest"), ("import numpy\nx = 1\n", "warm full")):
            served("print(1)")
            r, how = served(program, tests=[{"type": "pytest", "code": module}])
            self.assertTrue(how.startswith(image), how)
            self.assertEqual([t["outcome"] for t in r["testResults"]], ["passed"], r["testResults"])

    def test_without_its_lean_zygote_a_lean_program_forks_the_full_one(self):
        worker = svc.worker_pids()[0]
        lean = kill_zygote(worker, "pyexec-zyg-lean")
        seen = set()
        for i in range(4):  # the prepared lean sandbox's program outlived its zygote; then the full one serves
            status, r = svc.run(f"print({i})")
            self.assertEqual((status, r["stdout"]), (200, f"{i}\n"), r)
        assert_replaced(self, worker, "pyexec-zyg-lean", "lean", lean)
        deadline = time.time() + 30
        while time.time() < deadline:
            r, how = served("print('back')")
            seen.add(how)
            if how == "warm lean, prepared":
                break
            time.sleep(0.3)
        self.assertIn("warm lean, prepared", seen)
        self.assertEqual(r["stdout"], "back\n")

    def test_without_its_pytest_zygote_a_pytest_exercise_forks_the_full_one(self):
        pytest_image_ready()
        worker = svc.worker_pids()[0]
        pyt = kill_zygote(worker, "pyexec-zyg-pyt")
        seen = set()
        for _ in range(3):  # the prepared pytest sandbox's program outlived its zygote; then the full one serves
            r, how = served(ADD, **EXERCISE)
            self.assertEqual([t["outcome"] for t in r["testResults"]], ["passed"], r)
            seen.add(how)
        self.assertTrue(seen & {"warm full with pytest's pages, prepared", "warm full, prepared"}, seen)
        assert_replaced(self, worker, "pyexec-zyg-pyt", "pytest", pyt)
        pytest_image_ready()


class FullOnly(unittest.TestCase):
    def test_images_full_forks_the_full_image_for_everything(self):
        one = Service(workers=1, mode="warm", extra_args=["--images", "full"])
        try:
            self.assertEqual(sorted(zygotes(one.worker_pids()[0])), ["pyexec-zygote"])
            status, r = one.run(PROBE)
            self.assertEqual((status, r["stdout"]), (200, "True True\n"), r)
        finally:
            one.stop()


if __name__ == "__main__":
    import pyunit
    pyunit.main("images", globals())
