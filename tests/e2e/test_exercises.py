"""End-to-end tests of graded exercises (SPEC 3.1, issue 12) through a real
nginx and pyexecd: `files` in the request, files the program leaves in out/,
the pytest test type, /dev/shm, and /health's versions. run_all.sh runs it in
both modes."""
import base64
import concurrent.futures
import json
import os
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from service import Service  # noqa: E402

svc = None
SLOW = 10000  # ms: a cold run imports pandas, matplotlib or pytest itself


def setUpModule():
    global svc
    svc = Service(workers=2)


def tearDownModule():
    svc.stop()


def run(code, tests=None, **fields):
    fields.setdefault("timeoutMs", SLOW)
    status, r = svc.run(code, tests, **fields)
    assert status == 200, (status, r)
    return r


def rejected(body):
    status, _, data = svc.request("POST", "/run", body)
    return status, json.loads(data)["error"]


def pytest_entries(r):
    return [t for t in r["testResults"] if t["type"] == "pytest"]


def png_size(data):
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    return struct.unpack(">II", data[16:24])


class FilesIn(unittest.TestCase):
    def test_a_csv_and_a_helper_module(self):
        code = ("import pandas as pd\nfrom helpers import double\n"
                "df = pd.read_csv('data/scores.csv')\nmean = float(df['score'].mean())\nprint(double(2))\n")
        r = run(code, [{"type": "variable_value", "name": "mean", "expected": 70},
                       {"type": "output", "expected": "4"}],
                files={"data/scores.csv": "name,score\nAda,90\nBob,50\n", "helpers.py": "def double(x):\n    return 2 * x\n"})
        self.assertTrue(r["allPassed"], r)

    def test_files_are_in_the_writable_working_folder(self):
        code = ("import os\nst = os.stat('notes/a.txt')\nwith open('notes/a.txt', 'a') as f:\n    f.write('more')\n"
                "print(os.path.realpath('notes/a.txt'), st.st_uid == os.getuid() != 0, open('notes/a.txt').read(), sorted(os.listdir('.')), sep='|')\n")
        r = run(code, files={"notes/a.txt": "héllo ", "b.txt": ""})
        self.assertEqual(r["status"], "ok", r)
        path, uid, text, listing = r["stdout"].split("|")
        self.assertEqual(path, "/tmp/notes/a.txt")
        self.assertEqual(uid, "True")  # the run's own uid, not root
        self.assertEqual(text, "héllo more")
        self.assertEqual(listing.strip(), "['b.txt', 'notes']")

    def test_bad_paths_are_400_with_the_field(self):
        for path in ("../x", "/etc/passwd", "a/../../x", "main.py", "a/b/c/d.txt", "my file.txt", "a//b"):
            status, e = rejected({"code": "pass", "files": {path: "x"}})
            self.assertEqual((status, e["code"]), (400, "invalid_request"), (path, e))
            self.assertEqual(e["field"], "files[%s]" % json.dumps(path), e)
        status, e = rejected({"code": "pass", "files": {"a.txt": ["not", "text"]}})
        self.assertEqual((status, e["code"], e["field"]), (400, "invalid_request", 'files["a.txt"]'))
        status, e = rejected({"code": "pass", "files": ["a.txt"]})
        self.assertEqual((status, e["field"]), (400, "files"))

    def test_too_many_or_too_large_files_are_413(self):
        status, e = rejected({"code": "pass", "files": {"f%d" % i: "" for i in range(21)}})
        self.assertEqual((status, e["code"], e["field"]), (413, "code_too_large", "files"), e)
        status, e = rejected({"code": "pass", "files": {"a": "x" * (1 << 19), "b": "x" * ((1 << 19) + 1)}})
        self.assertEqual((status, e["code"], e["field"]), (413, "code_too_large", "files"), e)
        r = run("import os\nprint(os.path.getsize('a') + os.path.getsize('b'))",
                files={"a": "x" * (1 << 19), "b": "x" * (1 << 19)})
        self.assertEqual(r["stdout"], "%d\n" % (1 << 20))


class FilesOut(unittest.TestCase):
    def test_a_plot_comes_back_as_a_png(self):
        code = ("import os\nimport matplotlib.pyplot as plt\nos.makedirs('out')\n"
                "fig, ax = plt.subplots(figsize=(3, 2), dpi=100)\nax.plot([1, 2, 3], [4, 1, 2])\n"
                "fig.savefig('out/plot.png')\nprint('saved')\n")
        r = run(code)
        self.assertEqual(r["status"], "ok", r["stderr"])
        self.assertEqual(r["stdout"], "saved\n")
        [f] = r["files"]
        data = base64.b64decode(f["base64"], validate=True)
        self.assertEqual((f["path"], f["bytes"]), ("out/plot.png", len(data)))
        self.assertEqual(png_size(data), (300, 200))

    def test_files_are_sorted_nested_and_exact(self):
        code = ("import os\nos.makedirs('out/sub')\nfor p, t in [('out/b.txt', 'B'), ('out/a.txt', 'A'), "
                "('out/sub/c.bin', bytes(range(256)))]:\n"
                "    open(p, 'wb').write(t if isinstance(t, bytes) else t.encode())\n"
                "open('not-out.txt', 'w').write('no')\n")
        r = run(code)
        self.assertEqual([f["path"] for f in r["files"]], ["out/a.txt", "out/b.txt", "out/sub/c.bin"])
        self.assertEqual(base64.b64decode(r["files"][2]["base64"]), bytes(range(256)))
        self.assertNotIn("filesOmitted", r)

    def test_budgets(self):
        code = ("import os\nos.makedirs('out')\nfor i in range(12):\n    open('out/f%02d' % i, 'w').write('x')\n"
                "open('out/big', 'wb').write(b'\\0' * (3 << 20))\n")
        r = run(code)
        self.assertEqual(len(r["files"]), 10)
        self.assertEqual(r["files"][0], {"path": "out/big", "bytes": 3 << 20, "truncated": True})
        self.assertEqual(r["filesOmitted"], 3)
        code = ("import os\nos.makedirs('out')\nopen('out/a', 'wb').write(b'a' * (1536 << 10))\n"
                "open('out/b', 'wb').write(b'b' * (1 << 20))\nopen('out/c', 'wb').write(b'c' * 1000)\n")
        r = run(code)
        self.assertEqual([(f["path"], "base64" in f, f.get("truncated", False)) for f in r["files"]],
                         [("out/a", True, False), ("out/b", False, True), ("out/c", True, False)])

    def test_symlinks_and_odd_names_are_not_read(self):
        # (mkfifo and mknod are denied by the seccomp profile: no fifo to block on.)
        code = ("import os\nos.makedirs('out/deep/er/est')\nos.symlink('/etc/passwd', 'out/passwd')\n"
                "os.symlink('/etc', 'out/etc')\nopen('out/my file.txt', 'w').write('x')\n"
                "open('out/deep/er/est/x.txt', 'w').write('x')\nopen('out/ok.txt', 'w').write('ok')\n")
        r = run(code)
        self.assertEqual(r["status"], "ok", r)
        self.assertEqual([f["path"] for f in r["files"]], ["out/ok.txt"])
        self.assertEqual(r["filesOmitted"], 4)  # passwd, etc, "my file.txt", deep/er (too deep)
        self.assertNotIn("cm9vd", json.dumps(r))  # base64 of "root"

    def test_out_itself_a_symlink_is_not_followed(self):
        r = run("import os\nos.symlink('/etc', 'out')\n")
        self.assertEqual((r["status"], r["files"]), ("ok", []))

    def test_files_of_a_failed_run_come_back(self):
        r = run("import os\nos.makedirs('out')\nopen('out/log.txt', 'w').write('partial')\n1 / 0\n")
        self.assertEqual(r["status"], "error")
        self.assertEqual(base64.b64decode(r["files"][0]["base64"]), b"partial")


ADD = "def add(a, b):\n    return a + b\n"


class Pytest(unittest.TestCase):
    def test_outcomes_messages_and_names(self):
        module = ("import pytest\nfrom main import add\n\n"
                  "def test_add():\n    assert add(2, 3) == 5\n\n"
                  "def test_wrong():\n    assert add(2, 3) == 6\n\n"
                  "@pytest.mark.parametrize('a,b,c', [(1, 1, 2), (2, 3, 5)])\ndef test_param(a, b, c):\n    assert add(a, b) == c\n\n"
                  "@pytest.fixture\ndef numbers():\n    return [1, 2]\n\n"
                  "def test_fixture_capsys_tmp_path(numbers, capsys, tmp_path):\n"
                  "    print(add(*numbers))\n    assert capsys.readouterr().out == '3\\n'\n"
                  "    (tmp_path / 'f').write_text('x')\n\n"
                  "@pytest.mark.skip(reason='not yet')\ndef test_skip():\n    pass\n\n"
                  "@pytest.mark.xfail(reason='known bug')\ndef test_xfail():\n    assert add(1, 1) == 3\n\n"
                  "@pytest.mark.xfail(reason='fixed')\ndef test_xpass():\n    assert add(1, 1) == 2\n")
        r = run(ADD, [{"type": "pytest", "code": module}])
        got = {t["description"]: t for t in pytest_entries(r)}
        self.assertEqual({d: (t["outcome"], t["passed"]) for d, t in got.items()}, {
            "test_add": ("passed", True), "test_wrong": ("failed", False), "test_param[1-1-2]": ("passed", True),
            "test_param[2-3-5]": ("passed", True), "test_fixture_capsys_tmp_path": ("passed", True),
            "test_skip": ("skipped", True), "test_xfail": ("xfailed", True), "test_xpass": ("xpassed", True)})
        wrong = got["test_wrong"]["message"]
        self.assertIn("assert 5 == 6", wrong)
        self.assertIn("where 5 = add(2, 3)", wrong)
        self.assertIn("not yet", got["test_skip"]["message"])
        self.assertNotIn("message", got["test_add"])
        self.assertTrue(all(t["judgedIn"] == "sandbox" for t in got.values()))
        self.assertFalse(r["allPassed"])
        self.assertEqual(r["status"], "ok")

    def test_main_is_imported_not_run_again(self):
        code = "runs = []\nruns.append(1)\nprint('program ran')\n" + ADD
        module = "import main\nfrom main import add\n\ndef test_once():\n    assert main.runs == [1]\n    assert add(1, 2) == 3\n"
        r = run(code, [{"type": "pytest", "code": module, "description": "Adds"}])
        self.assertEqual(r["stdout"], "program ran\n")
        self.assertEqual(pytest_entries(r), [{"type": "pytest", "description": "Adds: test_once", "passed": True,
                                              "outcome": "passed", "expected": None, "actual": None,
                                              "judgedIn": "sandbox"}])
        self.assertTrue(r["allPassed"])

    def test_pytest_output_never_reaches_stdout(self):
        module = ("import os, sys\nfrom main import add\n\ndef test_noisy():\n    print('from the test')\n"
                  "    os.write(1, b'fd 1\\n')\n    os.write(2, b'fd 2\\n')\n    sys.__stdout__.write('dunder\\n')\n"
                  "    assert add(1, 1) == 3\n")
        r = run("print('only this')\n" + ADD, [{"type": "pytest", "code": module}])
        self.assertEqual(r["stdout"], "only this\n")
        self.assertEqual(r["stderr"], "")
        self.assertEqual(pytest_entries(r)[0]["outcome"], "failed")

    def test_files_and_conftest_are_seen_by_the_tests(self):
        files = {"helpers.py": "def triple(x):\n    return 3 * x\n",
                 "conftest.py": "import pytest\n\n@pytest.fixture\ndef three():\n    return 3\n"}
        module = "from helpers import triple\nfrom main import add\n\ndef test_it(three):\n    assert add(triple(three), 1) == 10\n"
        r = run(ADD, [{"type": "pytest", "code": module}], files=files)
        self.assertTrue(r["allPassed"], r["testResults"])

    def test_a_configuration_file_or_pytest_addopts_is_used(self):
        # What pytest itself reads from the working folder and the
        # environment applies, warm as cold (warm, such a run takes a whole
        # pytest session rather than the zygote's ready one).
        module = "def check_a():\n    assert True\n\ndef test_b():\n    assert False\n"
        r = run(ADD, [{"type": "pytest", "code": module}],
                files={"pytest.ini": "[pytest]\npython_functions = check_*\n"})
        self.assertEqual([(t["description"], t["outcome"]) for t in pytest_entries(r)], [("check_a", "passed")])
        r = run("import os\nos.environ['PYTEST_ADDOPTS'] = '-k test_b'\n" + ADD,
                [{"type": "pytest", "code": module.replace("check_a", "test_a")}])
        self.assertEqual([(t["description"], t["outcome"]) for t in pytest_entries(r)], [("test_b", "failed")])

    def test_a_conftest_adds_options_and_session_hooks(self):
        # pytest reads a conftest.py of the working folder while it starts:
        # its options exist, and its session-start hook runs (warm, such a
        # run takes a whole pytest session: the zygote's ready one started
        # before any conftest could be seen).
        conftest = ("def pytest_addoption(parser):\n    parser.addoption('--level', default='3')\n\n"
                    "def pytest_sessionstart(session):\n    session.config.pyexec_started = True\n")
        module = ("def test_option(pytestconfig):\n    assert pytestconfig.getoption('level') == '3'\n\n"
                  "def test_started(pytestconfig):\n    assert getattr(pytestconfig, 'pyexec_started', False)\n")
        r = run(ADD, [{"type": "pytest", "code": module}], files={"conftest.py": conftest})
        self.assertEqual([(t["description"], t["outcome"]) for t in pytest_entries(r)],
                         [("test_option", "passed"), ("test_started", "passed")], r["testResults"])

    def test_two_modules_in_one_run(self):
        first = ("import pytest\nfrom main import add\n\n@pytest.fixture\ndef two():\n    return 2\n\n"
                 "def test_one(two, tmp_path):\n    assert add(two, 1) == 3\n")
        second = "from main import add\n\ndef test_two(tmp_path):\n    assert add(1, 1) == 3\n"
        r = run(ADD, [{"type": "pytest", "code": first, "description": "A"},
                      {"type": "pytest", "code": second, "description": "B"}])
        self.assertEqual([(t["description"], t["outcome"]) for t in pytest_entries(r)],
                         [("A: test_one", "passed"), ("B: test_two", "failed")])
        self.assertIn("assert 2 == 3", pytest_entries(r)[1]["message"])

    def test_a_module_that_does_not_import(self):
        r = run(ADD, [{"type": "pytest", "code": "import no_such_module\n\ndef test_a():\n    pass\n"}])
        [entry] = pytest_entries(r)
        self.assertEqual((entry["passed"], entry["outcome"], entry["description"]), (False, "error", "test module"))
        self.assertIn("No module named 'no_such_module'", entry["message"])

    def test_a_module_that_collects_nothing(self):
        r = run(ADD, [{"type": "pytest", "code": "def helper():\n    pass\n", "description": "Empty"}])
        [entry] = pytest_entries(r)
        self.assertEqual((entry["passed"], entry["description"]), (False, "Empty"))
        self.assertIn("no test was collected", entry["message"])

    def test_a_program_that_raised_is_still_tested(self):
        r = run(ADD + "print('before')\n1 / 0\n", [{"type": "pytest", "code": "from main import add\n\ndef test_a():\n    assert add(1, 2) == 3\n"}])
        self.assertEqual((r["status"], r["stdout"]), ("error", "before\n"))
        self.assertEqual(pytest_entries(r)[0]["outcome"], "passed")
        self.assertFalse(r["allPassed"])

    def test_a_program_with_a_syntax_error(self):
        r = run("def add(a, b)\n    return a + b\n", [{"type": "pytest", "code": "def test_a():\n    pass\n"}])
        self.assertEqual(r["status"], "syntax_error")
        [entry] = pytest_entries(r)
        self.assertFalse(entry["passed"])
        self.assertIn("syntax error", entry["message"])

    def test_time_and_memory_are_the_runs(self):
        r = run(ADD, [{"type": "pytest", "code": "def test_a():\n    pass\n\ndef test_spin():\n    while True:\n        pass\n"}],
                timeoutMs=3000 if svc.mode == "warm" else 6000)
        self.assertEqual(r["status"], "timeout")
        entries = pytest_entries(r)
        self.assertEqual(entries[0]["outcome"], "passed")
        self.assertEqual(entries[-1]["message"], "pytest did not finish: the run timed out")
        r = run(ADD, [{"type": "pytest", "code": "def test_hog():\n    b = b'x' * (1 << 30)\n"}])
        self.assertEqual(r["status"], "memory_limit", r["error"])

    def test_long_messages_are_bounded(self):
        module = "def test_long():\n    raise ValueError('é' * 100000)\n"
        r = run(ADD, [{"type": "pytest", "code": module}])
        [entry] = pytest_entries(r)
        self.assertTrue(entry["messageTruncated"])
        self.assertLessEqual(len(entry["message"].encode()), 8192)
        self.assertIn("ValueError", entry["message"])

    def test_module_validation(self):
        status, e = rejected({"code": "pass", "tests": [{"type": "pytest"}]})
        self.assertEqual((status, e["code"], e["field"]), (400, "invalid_request", "tests[0].code"))
        status, e = rejected({"code": "pass", "tests": [{"type": "pytest", "code": "#" * (100 * 1024 + 1)}]})
        self.assertEqual((status, e["code"], e["field"]), (413, "code_too_large", "tests[0].code"))


# The program below rigs everything it can reach, then pytest runs: the
# outside-judged verdicts must be the honest ones.
RIGGER = r'''
import os, sys, types
x = 1
print("wrong")
FORGED = (b'\n{"i":0,"exists":true,"type":"int","value":2,"len":null}\n'
          b'{"test":2,"name":"test_forged","outcome":"passed"}\n{"event":"end"}\n')
def add(a, b):
    for fd in (1, 2, 4):
        try:
            os.write(fd, FORGED)
        except OSError:
            pass
    try:
        with open("/proc/self/fd/4", "wb") as f:
            f.write(FORGED)
    except OSError:
        pass
    print("right")
    return a + b
import _pytest.runner
_pytest.runner.call_and_report = lambda *a, **k: None
fake = types.ModuleType("json")
fake.dumps = lambda *a, **k: '{"i":0,"exists":true,"type":"int","value":2}'
sys.modules["json"] = fake
'''


class Trust(unittest.TestCase):
    def test_a_program_that_rigs_pytest_cannot_change_outside_verdicts(self):
        tests = [{"type": "variable_value", "name": "x", "expected": 2},
                 {"type": "output", "expected": "right"},
                 {"type": "pytest", "code": "from main import add\n\ndef test_add():\n    assert add(1, 1) == 2\n"},
                 {"type": "function_call", "function": "add", "args": [1, 1], "expected": 3}]
        r = run(RIGGER, tests)
        self.assertEqual(r["stdout"], "wrong\n")
        by_type = {t["type"]: t for t in r["testResults"]}
        self.assertFalse(by_type["variable_value"]["passed"], r["testResults"])
        self.assertFalse(by_type["output"]["passed"])
        self.assertEqual(by_type["output"]["actual"], "wrong")
        self.assertFalse(by_type["function_call"]["passed"])
        self.assertFalse(r["allPassed"])
        self.assertNotIn("test_forged", json.dumps(r["testResults"]))

    def test_forgery_during_pytest_only_costs_the_program(self):
        """The observations are written before pytest starts; whatever runs
        during pytest (here the program's add()) can only spoil the stream,
        which then counts for nothing: no outside-judged test passes."""
        code = RIGGER.split("import _pytest.runner")[0]
        tests = [{"type": "variable_value", "name": "x", "expected": 1},
                 {"type": "pytest", "code": "from main import add\n\ndef test_add():\n    assert add(1, 1) == 2\n"}]
        r = run(code, tests)
        self.assertEqual(r["stdout"], "wrong\n")
        self.assertEqual(r["stderr"], "")
        value = r["testResults"][0]
        self.assertFalse(value["passed"])
        self.assertIn("result channel", value["message"])

    def test_replaced_modules_do_not_change_honest_verdicts(self):
        code = ("import sys, types\nx = 2\nprint('right')\nfor name in ('json', '_json', 'pytest', 'main', 'os'):\n"
                "    sys.modules[name] = types.ModuleType(name)\n")
        tests = [{"type": "variable_value", "name": "x", "expected": 2}, {"type": "output", "expected": "right"},
                 {"type": "pytest", "code": "def test_a():\n    pass\n"}]
        r = run(code, tests)
        self.assertTrue(r["testResults"][0]["passed"], r["testResults"])
        self.assertTrue(r["testResults"][1]["passed"])
        [entry] = pytest_entries(r)
        if svc.mode == "warm":  # the zygote's ready session holds its own modules (src/runner/pytest_warm.py)
            self.assertEqual(entry["outcome"], "passed", entry)
        else:  # pytest itself was replaced: it could not run
            self.assertFalse(entry["passed"], entry)
            self.assertIn("pytest could not run", entry["message"])


class DevShm(unittest.TestCase):
    def test_multiprocessing_pool_works(self):
        code = ("from multiprocessing import Pool, Value, Lock\n\ndef square(x):\n    return x * x\n\n"
                "if __name__ == '__main__':\n    with Pool(2) as p:\n        print(p.map(square, range(5)))\n"
                "    v = Value('i', 41)\n    with Lock():\n        v.value += 1\n    print(v.value)\n")
        r = run(code)
        self.assertEqual((r["status"], r["stdout"]), ("ok", "[0, 1, 4, 9, 16]\n42\n"), r["stderr"])

    def test_filling_it_stops_at_its_size_and_the_next_run_finds_it_empty(self):
        fill = ("import os\nwritten = 0\ntry:\n    with open('/dev/shm/fill', 'wb') as f:\n"
                "        while True:\n            written += f.write(b'\\xa5' * (1 << 20))\n            f.flush()\n"
                "except OSError as e:\n    print(e.errno, written)\n")
        victim = "import time\nt = time.time()\nwhile time.time() - t < 0.5:\n    pass\nprint('victim ok')\n"
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            v = pool.submit(run, victim)
            r = run(fill)
            self.assertEqual(v.result()["stdout"], "victim ok\n")
        errno_, written = map(int, r["stdout"].split())
        self.assertEqual(errno_, 28)  # ENOSPC
        self.assertLessEqual(written, 16 << 20)
        self.assertGreaterEqual(written, 15 << 20)
        # Its pages are the run's: charged to its memory cgroup.
        self.assertGreaterEqual(r["memoryPeakBytes"], written)
        r = run("import os\nst = os.statvfs('/dev/shm')\nprint(os.listdir('/dev/shm'), st.f_bfree == st.f_blocks)\n")
        self.assertEqual(r["stdout"], "[] True\n")

    def test_its_pages_count_against_the_runs_memory(self):
        write = "with open('{}', 'wb') as f:\n    for _ in range(12):\n        f.write(b'\\xa5' * (1 << 20))\n"
        shm = run(write.format("/dev/shm/x"))["memoryPeakBytes"]
        null = run(write.format("/dev/null"))["memoryPeakBytes"]
        self.assertGreaterEqual(shm - null, 10 << 20, (shm, null))

    def test_mounted_small_noexec_nosuid_nodev(self):
        code = ("import os, shutil, subprocess\nfor line in open('/proc/self/mountinfo'):\n"
                "    f = line.split()\n    if f[4] == '/dev/shm':\n        print(f[5], line.split(' - ')[1].split()[0])\n"
                "st = os.statvfs('/dev/shm')\nprint(st.f_blocks * st.f_frsize)\n"
                "shutil.copy('/usr/bin/true', '/dev/shm/true')\nos.chmod('/dev/shm/true', 0o755)\n"
                "try:\n    subprocess.run(['/dev/shm/true'])\n    print('executed')\nexcept PermissionError:\n    print('refused')\n")
        r = run(code)
        opts, fstype, size, exec_ = r["stdout"].split()
        self.assertEqual(fstype, "tmpfs")
        for flag in ("rw", "noexec", "nosuid", "nodev"):
            self.assertIn(flag, opts.split(","))
        self.assertLessEqual(int(size), 16 << 20)
        self.assertEqual(exec_, "refused")


class Health(unittest.TestCase):
    def test_versions_of_the_installed_packages(self):
        status, _, data = svc.request("GET", "/health")
        self.assertEqual(status, 200, data)
        packages = json.loads(data)["packages"]
        host = subprocess.run(["/usr/bin/python3", "-c", "import json, numpy, pandas, matplotlib, pytest; print(json.dumps("
                               "{m.__name__: m.__version__ for m in (numpy, pandas, matplotlib, pytest)}))"],
                              capture_output=True, text=True, check=True).stdout
        self.assertEqual(packages, json.loads(host))


if __name__ == "__main__":
    import pyunit
    pyunit.main("exercises", globals())
