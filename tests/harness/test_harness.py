"""Tests of src/harness/harness.py, run the way pyexecd runs it (PROTOCOL.md):

    /usr/bin/python3 -u -B -s -c "<harness source>"

with fd 0 = stdin (a sealed memfd, or a pipe), 1 and 2 = pipes, 3 = the
harness input (a sealed memfd, or a pipe), 4 = the result pipe, a fixed
environment and a fresh empty working directory (the sandbox's /tmp). No
sandbox here: these tests are about the harness's behaviour only.

Where the harness must print what CPython prints for a script, the test runs
the same program as `/usr/bin/python3 main.py` and compares.

Run: /usr/bin/python3 tests/harness/test_harness.py
"""
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from harness_source import harness_source  # noqa: E402

HARNESS_SOURCE = harness_source()

ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}

# Keep fds 3 and 4 of this process occupied, so that the pipes and memfds made
# below (and subprocess's own error pipe) never get those numbers: the child
# moves its descriptors onto 3 and 4 with dup2 in preexec_fn.
_RESERVED = []
while True:
    _fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    if _fd > 4:
        os.close(_fd)
        break
    _RESERVED.append(_fd)


def _sealed_memfd(name, data):
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    return fd


def _pipe_with(data):
    """A pipe whose read end yields data then EOF (a thread feeds it)."""
    r, w = os.pipe()

    def feed():
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
        except OSError:
            pass
        finally:
            os.close(w)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    return r


class Run:
    def __init__(self, returncode, stdout, stderr, raw_records):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.raw_records = raw_records
        self.records = []
        for line in raw_records.decode("ascii").split("\n"):
            if line:  # blank lines are allowed (and skipped by the worker)
                self.records.append(json.loads(line))

    @property
    def finished(self):
        return self.records[0]

    def obs(self, i):
        found = [r for r in self.records if r.get("i") == i]
        assert len(found) == 1, (i, self.records)
        return found[0]

    def __repr__(self):
        return "Run(rc=%r, stdout=%r, stderr=%r, records=%r)" % (
            self.returncode, self.stdout, self.stderr, self.raw_records)


def run_harness(code, observe=(), stdin=b"", pipes=False, merge_output=False, timeout=60,
                harness_input=None):
    """Runs the harness on code. pipes: fds 0 and 3 are pipes instead of
    memfds. merge_output: fds 1 and 2 are the same pipe (to check order)."""
    if harness_input is None:
        harness_input = json.dumps({"code": code, "observe": list(observe)}).encode("utf-8")
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    if pipes:
        in_fd = _pipe_with(harness_input)
        stdin_fd = _pipe_with(stdin)
    else:
        in_fd = _sealed_memfd("harness-input", harness_input)
        stdin_fd = _sealed_memfd("stdin", stdin)
    res_r, res_w = os.pipe()

    def arrange_fds():  # in the child, before exec: fds 3 and 4 as PROTOCOL.md says
        os.dup2(in_fd, 3)
        os.dup2(res_w, 4)

    records = []
    reader = threading.Thread(target=lambda: records.append(_read_all(res_r)))
    try:
        with tempfile.TemporaryDirectory() as cwd:
            proc = subprocess.Popen(
                [PYTHON, "-u", "-B", "-s", "-c", HARNESS_SOURCE],
                stdin=stdin_fd, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
                pass_fds=(3, 4), preexec_fn=arrange_fds, cwd=cwd, env=ENV)
            os.close(res_w)
            res_w = -1
            reader.start()
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise
            reader.join(timeout)
    finally:
        for fd in (in_fd, stdin_fd, res_w):
            if fd >= 0:
                os.close(fd)
    return Run(proc.returncode, out.decode("utf-8", "replace"),
               (err or b"").decode("utf-8", "replace"), records[0] if records else b"")


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def run_real(code, stdin=b""):
    """The same program as `/usr/bin/python3 main.py`; paths shown as main.py."""
    with tempfile.TemporaryDirectory() as cwd:
        path = os.path.join(cwd, "main.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        proc = subprocess.run([PYTHON, "-u", "-B", "-s", "main.py"], input=stdin, cwd=cwd,
                              env=ENV, capture_output=True, timeout=60)
    err = proc.stderr.decode("utf-8", "replace").replace(path, "main.py")
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), err


FINISHED_OK = {"event": "finished", "exitCode": 0, "syntaxError": False, "error": None}
END = {"event": "end"}


class HarnessTestCase(unittest.TestCase):
    maxDiff = None

    def assertLikePython(self, code, run=None, stdin=b""):
        """The harness prints (stdout and stderr) and exits like python3 main.py."""
        if run is None:
            run = run_harness(code, stdin=stdin)
        rc, out, err = run_real(code, stdin)
        self.assertEqual(run.stdout, out)
        self.assertEqual(run.stderr, err)
        self.assertEqual(run.returncode, rc)
        return run

    def assertNoHarnessFrames(self, text):
        self.assertNotIn("<string>", text)
        self.assertNotIn("harness", text)
        self.assertNotIn("_pyexec", text)


class TestBasics(HarnessTestCase):
    def test_hello_world(self):
        r = run_harness('print("Hello, World!")\n')
        self.assertEqual(r.stdout, "Hello, World!\n")
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.records, [FINISHED_OK, END])
        self.assertEqual(r.raw_records,
                         b'\n{"event":"finished","exitCode":0,"syntaxError":false,"error":null}\n'
                         b'{"event":"end"}\n')

    def test_records_are_ascii_ndjson(self):
        r = run_harness('s = "h\\u00e9llo \\U0001F600"\n', [{"var": "s"}])
        self.assertTrue(r.raw_records.endswith(b"\n"))
        r.raw_records.decode("ascii")
        self.assertEqual(r.obs(0)["value"], "h\u00e9llo \U0001F600")

    def test_empty_program(self):
        r = run_harness("")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        self.assertEqual(r.records, [FINISHED_OK, END])

    def test_pipes_for_stdin_and_input(self):
        r = run_harness("x = input()\nprint(x.upper())\n", [{"var": "x"}], stdin="abc\n",
                        pipes=True)
        self.assertEqual(r.stdout, "ABC\n")
        self.assertEqual(r.obs(0)["value"], "abc")

    def test_large_input_through_pipes(self):
        code = "data = %r\nimport sys\nn = len(sys.stdin.read())\n" % ("x" * 90000)
        r = run_harness(code, [{"var": "n"}], stdin=b"y" * 300000, pipes=True)
        self.assertEqual(r.obs(0)["value"], 300000)

    def test_stdin_input_and_read(self):
        code = "name = input('Name? ')\nrest = __import__('sys').stdin.read()\nprint('Hi', name)\n"
        r = run_harness(code, [{"var": "rest"}], stdin="Ada\nline 2\nline 3\n")
        self.assertEqual(r.stdout, "Name? Hi Ada\n")
        self.assertEqual(r.obs(0)["value"], "line 2\nline 3\n")

    def test_input_at_eof(self):
        code = "x = input()\n"
        r = self.assertLikePython(code)
        self.assertIn("EOFError: EOF when reading a line", r.stderr)
        self.assertEqual(r.finished["error"], "EOFError: EOF when reading a line (line 1)")

    def test_main_module(self):
        code = ("import sys, __main__\n"
                "x = 41\n"
                "same = __main__.x == 41 and sys.modules['__main__'].__dict__ is globals()\n"
                "name = __name__\nfile = __file__\nargv = sys.argv\ndoc = __doc__\n"
                "if __name__ == '__main__':\n    print('main')\n")
        r = run_harness(code, [{"var": "same"}, {"var": "name"}, {"var": "file"},
                               {"var": "argv"}, {"var": "doc"}])
        self.assertEqual(r.stdout, "main\n")
        self.assertEqual([r.obs(i)["value"] for i in range(5)],
                         [True, "__main__", "main.py", ["main.py"], None])

    def test_docstring(self):
        r = run_harness('"""The doc."""\nd = __doc__\n', [{"var": "d"}])
        self.assertEqual(r.obs(0)["value"], "The doc.")

    def test_pickle_dataclass_inspect(self):
        code = ("import pickle, dataclasses, inspect\n"
                "@dataclasses.dataclass\nclass P:\n    x: int\n    y: int = 2\n"
                "def f(a):\n    return a + 1\n"
                "p = pickle.loads(pickle.dumps(P(1)))\n"
                "ok = p == P(1, 2) and pickle.loads(pickle.dumps(f)) is f\n"
                "src = inspect.getsource(f)\n")
        r = run_harness(code, [{"var": "ok"}, {"var": "src"}, {"var": "p"}])
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.obs(0)["value"], True)
        self.assertEqual(r.obs(1)["value"], "def f(a):\n    return a + 1\n")
        self.assertEqual(r.obs(2), {"i": 2, "exists": True, "type": "P",
                                    "value": "P(x=1, y=2)", "len": None})

    def test_no_harness_leftovers_visible(self):
        code = ("import sys\n"
                "names = sorted(k for k in globals() if not k.startswith('__'))\n"
                "path0 = sys.path[0]\n"
                "mods = [m for m in ('json', 'traceback', '_pyexec') if m in sys.modules]\n"
                "cwd = __import__('os').getcwd()\n")
        r = run_harness(code, [{"var": "names"}, {"var": "path0"}, {"var": "mods"}])
        self.assertEqual(r.obs(0)["value"], ["sys"])
        self.assertEqual(r.obs(1)["value"], "")
        self.assertEqual(r.obs(2)["value"], [])  # the harness uses _json, not json

    def test_output_order_with_traceback(self):
        code = "print('before')\nimport sys\nsys.stderr.write('err\\n')\nprint('after')\n1/0\n"
        r = run_harness(code, merge_output=True)
        self.assertTrue(r.stdout.startswith("before\nerr\nafter\nTraceback (most recent call last):\n"),
                        r.stdout)
        self.assertTrue(r.stdout.endswith("ZeroDivisionError: division by zero\n"))

    def test_future_flags_not_inherited(self):
        # the harness must compile the program on its own (dont_inherit)
        code = "def f(x: undefined_name): pass\nann = f.__annotations__\n"
        r = run_harness(code)
        self.assertIn("NameError: name 'undefined_name' is not defined", r.stderr)

    def test_fd3_closed_and_fd4_not_inherited(self):
        code = ("import os\n"
                "fds = [fd for fd in range(10) if os.path.exists('/proc/self/fd/%d' % fd)]\n"
                "child = os.popen('ls /proc/self/fd').read().split()\n")
        r = run_harness(code, [{"var": "fds"}, {"var": "child"}])
        self.assertEqual(r.obs(0)["value"], [0, 1, 2, 4])
        self.assertNotIn("4", r.obs(1)["value"])  # even with fork + exec by hand

    def test_crlf_and_unicode(self):
        code = "s = 'h\u00e9llo'\r\nprint(s)\r\n\r\nprint(s / 2)\r\n"
        r = self.assertLikePython(code)
        self.assertIn('File "main.py", line 4, in <module>\n    print(s / 2)\n', r.stderr)
        self.assertEqual(r.stdout, "h\u00e9llo\n")

    def test_bom_is_dropped(self):
        r = run_harness("\ufeffx = 1\n", [{"var": "x"}])
        self.assertEqual(r.obs(0)["value"], 1)


class TestErrors(HarnessTestCase):
    def test_syntax_error(self):
        code = 'x = 1\nprint("a"\n'
        r = self.assertLikePython(code)
        self.assertEqual(r.stderr,
                         '  File "main.py", line 2\n    print("a"\n         ^\n'
                         "SyntaxError: '(' was never closed\n")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.records[0], {"event": "finished", "exitCode": 1, "syntaxError": True,
                                        "error": "SyntaxError: '(' was never closed (line 2)"})

    def test_syntax_error_no_observations_of_code(self):
        r = run_harness("x = = 1\n", [{"var": "x"}, {"call": "f"}, None])
        self.assertLikePython("x = = 1\n", r)
        self.assertEqual(r.finished["error"], "SyntaxError: invalid syntax (line 1)")
        self.assertEqual(r.records[1:], [{"i": 0, "exists": False},
                                         {"i": 1, "ok": False,
                                          "error": "NameError: name 'f' is not defined"}, END])

    def test_indentation_and_tab_errors(self):
        for code, summary in [
            ("if True:\nprint(1)\n",
             "IndentationError: expected an indented block after 'if' statement on line 1 (line 2)"),
            ("if True:\n        x = 1\n\ty = 2\n",
             "TabError: inconsistent use of tabs and spaces in indentation (line 3)"),
            ("  x = 1\n", "IndentationError: unexpected indent (line 1)"),
        ]:
            r = self.assertLikePython(code)
            self.assertTrue(r.finished["syntaxError"], code)
            self.assertEqual(r.finished["error"], summary)

    def test_syntax_warning_shows_source(self):
        r = self.assertLikePython("x = 1\nif x is 1:\n    print('one')\n")
        self.assertIn('main.py:2: SyntaxWarning: "is" with a literal', r.stderr)

    def test_null_byte(self):
        r = run_harness("x = 1\0\n")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.finished["syntaxError"])
        self.assertEqual(r.finished["error"], "SyntaxError: source code cannot contain null bytes")
        self.assertEqual(r.stderr, "SyntaxError: source code cannot contain null bytes\n")

    def test_runtime_error_line_3(self):
        code = "x = 1\ny = 0\nprint(1/0)\n"
        r = self.assertLikePython(code)
        self.assertEqual(r.stderr,
                         "Traceback (most recent call last):\n"
                         '  File "main.py", line 3, in <module>\n'
                         "    print(1/0)\n"
                         "          ~^~\n"
                         "ZeroDivisionError: division by zero\n")
        self.assertEqual(r.records, [{"event": "finished", "exitCode": 1, "syntaxError": False,
                                      "error": "ZeroDivisionError: division by zero (line 3)"},
                                     END])

    def test_error_in_function(self):
        code = "def f(n):\n    return [1][n]\n\nprint('x')\nf(5)\n"
        r = self.assertLikePython(code)
        self.assertNoHarnessFrames(r.stderr)
        self.assertEqual(r.stderr.count('File "main.py"'), 2)
        self.assertEqual(r.finished["error"], "IndexError: list index out of range (line 2)")

    def test_error_in_library(self):
        code = "import json\n\njson.loads('nope')\n"
        r = self.assertLikePython(code)
        self.assertNoHarnessFrames(r.stderr)
        self.assertIn('/json/decoder.py", line', r.stderr)
        self.assertEqual(r.finished["error"],
                         "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0) (line 3)")

    def test_chained_exceptions(self):
        code = ("def parse(s):\n    try:\n        return int(s)\n    except ValueError as e:\n"
                "        raise RuntimeError('bad input') from e\n\n"
                "try:\n    {}['k']\nexcept KeyError:\n    parse('x')\n")
        r = self.assertLikePython(code)
        self.assertNoHarnessFrames(r.stderr)
        self.assertIn("During handling of the above exception, another exception occurred:", r.stderr)
        self.assertIn("The above exception was the direct cause of the following exception:", r.stderr)
        self.assertEqual(r.finished["error"], "RuntimeError: bad input (line 5)")

    def test_exception_without_message_and_custom_class(self):
        r = self.assertLikePython("x = 1\nraise ValueError\n")
        self.assertEqual(r.finished["error"], "ValueError (line 2)")
        code = "class MyError(Exception):\n    pass\n\nraise MyError('it\\nbroke')\n"
        r = self.assertLikePython(code)
        self.assertEqual(r.finished["error"], "MyError: it broke (line 4)")

    def test_long_message_is_cut(self):
        r = run_harness("raise ValueError('x' * 5000)\n")
        self.assertEqual(r.finished["error"], "ValueError: " + "x" * 288 + "... (line 1)")

    def test_exception_group_and_notes(self):
        code = ("e = ValueError('v')\ne.add_note('a note')\n"
                "raise ExceptionGroup('many', [e, TypeError('t')])\n")
        r = self.assertLikePython(code)
        self.assertEqual(r.finished["error"], "ExceptionGroup: many (2 sub-exceptions) (line 3)")

    def test_recursion_error(self):
        code = "def f(n):\n    return f(n + 1)\n\nf(0)\n"
        r = run_harness(code)
        rc, out, err = run_real(code)
        self.assertEqual(r.returncode, 1)
        self.assertNoHarnessFrames(r.stderr)
        # The program runs two frames deeper than a script (the harness's own
        # frame and exec), so the repeat count differs by 2; the rest is equal.
        self.assertIn("[Previous line repeated 996 more times]", err)
        self.assertEqual(r.stderr, err.replace("996 more times", "994 more times"))
        self.assertEqual(r.finished["error"], "RecursionError: maximum recursion depth exceeded (line 2)")

    def test_keyboard_interrupt(self):
        r = run_harness("print(1)\nraise KeyboardInterrupt\n")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.endswith("KeyboardInterrupt\n"))
        self.assertEqual(r.finished["error"], "KeyboardInterrupt (line 2)")

    def test_traceback_after_linecache_cleared(self):
        code = "import linecache\nlinecache.clearcache()\nx = [][0]\n"
        r = self.assertLikePython(code)
        self.assertIn("    x = [][0]\n", r.stderr)

    def test_program_prints_its_own_traceback(self):
        code = ("import traceback\ntry:\n    1/0\nexcept ZeroDivisionError:\n"
                "    traceback.print_exc()\nprint('done')\n")
        r = self.assertLikePython(code)
        self.assertIn("    1/0\n", r.stderr)

    def test_warning_shows_source(self):
        self.assertLikePython("import warnings\nwarnings.warn('careful')\n")

    def test_custom_excepthook(self):
        code = ("import sys\ndef hook(t, v, tb):\n    import os\n    print('hooked', t.__name__, os.path.basename(tb.tb_frame.f_code.co_filename))\n"
                "sys.excepthook = hook\nraise OSError('x')\n")
        r = self.assertLikePython(code)
        self.assertEqual(r.stdout, "hooked OSError main.py\n")
        self.assertEqual(r.finished["error"], "OSError: x (line 6)")

    def test_broken_excepthook(self):
        code = "import sys\ndef hook(t, v, tb):\n    raise TypeError('hook')\nsys.excepthook = hook\n1/0\n"
        r = run_harness(code)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("Error in sys.excepthook:\nTraceback (most recent call last):\n"))
        self.assertIn("\nOriginal exception was:\nTraceback (most recent call last):\n", r.stderr)
        self.assertTrue(r.stderr.endswith("ZeroDivisionError: division by zero\n"))
        self.assertNoHarnessFrames(r.stderr)

    def test_stderr_closed_by_program(self):
        r = run_harness("import sys\nsys.stderr.close()\n1/0\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ZeroDivisionError", r.stderr)  # written to fd 2 directly
        self.assertEqual(r.finished["error"], "ZeroDivisionError: division by zero (line 3)")


class TestExit(HarnessTestCase):
    def test_sys_exit_3_observes_variables(self):
        code = "import sys\nx = 5\nprint('bye')\nsys.exit(3)\ny = 6\n"
        r = self.assertLikePython(code)
        r = run_harness(code, [{"var": "x"}, {"var": "y"}])
        self.assertEqual((r.returncode, r.stdout, r.stderr), (3, "bye\n", ""))
        self.assertEqual(r.records, [
            {"event": "finished", "exitCode": 3, "syntaxError": False, "error": None},
            {"i": 0, "exists": True, "type": "int", "value": 5, "len": None},
            {"i": 1, "exists": False}, END])

    def test_sys_exit_message(self):
        r = self.assertLikePython("import sys\nsys.exit('fatal: no input')\n")
        self.assertEqual(r.stderr, "fatal: no input\n")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.finished, {"event": "finished", "exitCode": 1, "syntaxError": False,
                                      "error": None})

    def test_exit_codes_like_python(self):
        for arg, code in [("", 0), ("None", 0), ("0", 0), ("256", 0), ("257", 1), ("-1", 255),
                          ("True", 1), ("2**40 + 7", 7), ("2**70", 255), ("[1, 2]", 1)]:
            program = "import sys\nsys.exit(%s)\n" % arg
            r = self.assertLikePython(program)
            self.assertEqual(r.returncode, code, arg)
            self.assertEqual(r.finished["exitCode"], code, arg)
        r = self.assertLikePython("raise SystemExit\n")
        self.assertEqual(r.returncode, 0)
        r = self.assertLikePython("exit(4)\n")
        self.assertEqual(r.returncode, 4)

    def test_atexit_runs(self):
        code = "import atexit\natexit.register(print, 'at exit')\nprint('main')\n"
        r = self.assertLikePython(code)
        self.assertEqual(r.stdout, "main\nat exit\n")

    def test_os_exit_no_records(self):
        r = run_harness("import os\nx = 1\nprint('hi', flush=True)\nos._exit(5)\n", [{"var": "x"}])
        self.assertEqual((r.returncode, r.stdout), (5, "hi\n"))
        self.assertEqual(r.records, [])

    def test_non_daemon_thread_not_waited_for(self):
        code = ("import threading, time\n"
                "threading.Thread(target=time.sleep, args=(30,)).start()\nx = 1\n")
        r = run_harness(code, [{"var": "x"}], timeout=20)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.obs(0)["value"], 1)

    def test_forked_child_writes_no_records(self):
        code = ("import os\npid = os.fork()\nif pid == 0:\n    print('child')\nelse:\n"
                "    os.waitpid(pid, 0)\n    print('parent')\n")
        r = run_harness(code, [{"var": "pid"}])
        self.assertEqual(r.stdout, "child\nparent\n")
        self.assertEqual([x.get("event") for x in r.records], ["finished", None, "end"])
        self.assertNotEqual(r.obs(0)["value"], 0)


def value_of(code, name="v"):
    r = run_harness(code, [{"var": name}])
    rec = r.obs(0)
    return rec


class TestValues(HarnessTestCase):
    def check(self, code, type_name, value, length=None, truncated=False):
        rec = value_of(code)
        expected = {"i": 0, "exists": True, "type": type_name, "value": value, "len": length}
        if truncated:
            expected["truncated"] = True
        self.assertEqual(rec, expected, code)
        return rec

    def test_scalars(self):
        self.check("v = None", "NoneType", None)
        self.check("v = True", "bool", True)
        self.check("v = 42", "int", 42)
        self.check("v = -2**63", "int", -2**63)
        self.check("v = 2**100", "int", 2**100)
        self.check("v = 2.5", "float", 2.5)
        self.check("v = 1e308 * 10", "float", "Infinity")
        self.check("v = -float('inf')", "float", "-Infinity")
        self.check("v = float('nan')", "float", "NaN")
        self.check("v = 'text'", "str", "text", 4)
        self.check("v = ''", "str", "", 0)
        self.check("v = 1 + 2j", "complex", "(1+2j)")
        self.check("v = b'ab'", "bytes", "b'ab'", 2)

    def test_bool_stays_bool(self):
        rec = self.check("v = [True, 1, 1.0, False, 0]", "list", [True, 1, 1.0, False, 0], 5)
        self.assertIs(rec["value"][0], True)
        self.assertIs(type(rec["value"][1]), int)

    def test_containers(self):
        self.check("v = (1, 'a', None)", "tuple", [1, "a", None], 3)
        self.check("v = {'a': [1, {'b': (2,)}], 'c': None}", "dict",
                   {"a": [1, {"b": [2]}], "c": None}, 2)
        self.check("v = {3, 1, 2}", "set", [1, 2, 3], 3)
        self.check("v = frozenset({'b', 'a'})", "frozenset", ["a", "b"], 2)
        self.check("v = set()", "set", [], 0)
        self.check("v = [[]] * 2", "list", [[], []], 2)
        self.check("v = range(3)", "range", "range(0, 3)", 3)
        self.check("import collections\nv = collections.OrderedDict(a=1)", "OrderedDict", {"a": 1}, 1)
        self.check("import collections\nv = collections.namedtuple('P', 'x y')(1, 2)", "P", [1, 2], 2)
        self.check("import enum\nclass C(enum.IntEnum):\n    A = 3\nv = C.A", "C", 3)

    def test_set_of_mixed_types(self):
        self.check("v = {2, 'b', 1.5, 'a', None}", "set", [1.5, 2, "a", "b", None], 5)

    def test_dict_with_non_str_keys_is_repr(self):
        self.check("v = {1: 'a', 2: 'b'}", "dict", "{1: 'a', 2: 'b'}", 2)
        self.check("v = [{(1, 2): 3}]", "list", ["{(1, 2): 3}"], 1)

    def test_other_objects_are_repr(self):
        self.check("class A:\n    def __repr__(self):\n        return 'A!'\nv = [A()]", "list", ["A!"], 1)
        self.check("class A:\n    def __repr__(self):\n        raise ValueError\nv = A()", "A",
                   "<unrepresentable object>")
        self.check("class A:\n    def __len__(self):\n        return 7\n    def __repr__(self):\n"
                   "        return 'seven'\nv = A()", "A", "seven", 7)
        self.check("class A:\n    def __len__(self):\n        1/0\n    def __repr__(self):\n"
                   "        print('noise')\n        return 'r'\nv = A()", "A", "r", None)

    def test_numpy(self):
        self.check("import numpy as np\nv = np.array([[1, 2], [3, 4]])", "ndarray", [[1, 2], [3, 4]], 2)
        self.check("import numpy as np\nv = np.int64(7)", "int64", 7)
        self.check("import numpy as np\nv = np.float64('nan')", "float64", "NaN")
        self.check("import numpy as np\nv = np.float32(0.5)", "float32", 0.5)
        self.check("import numpy as np\nv = np.bool_(True)", "bool_", True)
        self.check("import numpy as np\nv = np.array([1.5, np.inf])", "ndarray", [1.5, "Infinity"], 2)
        self.check("import numpy as np\nv = np.array(3)", "ndarray", 3)
        self.check("import numpy as np\nv = {'a': np.arange(3)}", "dict", {"a": [0, 1, 2]}, 1)

    def test_pandas(self):
        self.check("import pandas as pd\nv = pd.Series([1, 2, 3])", "Series", [1, 2, 3], 3)
        self.check("import pandas as pd\nv = pd.Series([1.5, None])", "Series", [1.5, "NaN"], 2)
        rec = value_of("import pandas as pd\nv = pd.DataFrame({'a': [1]})")
        self.assertEqual((rec["type"], rec["len"]), ("DataFrame", 1))
        self.assertEqual(rec["value"], "   a\n0  1")

    def test_circular_list(self):
        rec = self.check("v = [1]\nv.append(v)", "list", "[1, [...]]", 2, truncated=True)
        rec = value_of("v = {}\nv['self'] = v")
        self.assertEqual(rec["value"], "{'self': {...}}")
        self.assertTrue(rec["truncated"])

    def test_depth_cap(self):
        rec = value_of("v = x = []\nfor _ in range(63):\n    x.append([])\n    x = x[0]\n")
        self.assertNotIn("truncated", rec)  # 64 levels
        rec = value_of("v = x = []\nfor _ in range(64):\n    x.append([])\n    x = x[0]\n")
        self.assertTrue(rec["truncated"])
        self.assertEqual(rec["value"], "[" * 64 + "..." + "]" * 64)
        rec = value_of("v = x = []\nfor _ in range(100000):\n    x.append([])\n    x = x[0]\n")
        self.assertTrue(rec["truncated"])
        self.assertEqual(rec["len"], 1)

    def test_huge_list(self):
        rec = self.check("v = list(range(100000))", "list", list(range(100000)), 100000)
        rec = value_of("v = list(range(100001))")
        self.assertEqual(rec["len"], 100001)
        self.assertTrue(rec["truncated"])
        self.assertTrue(rec["value"].startswith("[0, 1, 2, "))
        self.assertTrue(rec["value"].endswith("..."))
        self.assertEqual(len(rec["value"]), 10003)

    def test_shared_structure_is_cheap(self):
        rec = value_of("a = [1] * 1000\nb = [a] * 1000\nv = [b] * 1000\n")
        self.assertTrue(rec["truncated"])
        self.assertEqual(len(rec["value"]), 10003)

    def test_huge_string(self):
        rec = value_of("v = 'ab' * 600000")
        self.assertEqual(rec["len"], 1200000)
        self.assertTrue(rec["truncated"])
        self.assertEqual(rec["value"], "'" + "ab" * 4999 + "a...")

    def test_big_ints(self):
        self.check("v = 2**2000", "int", str(2**2000))  # past a double: as a decimal string
        self.check("v = 10**5000", "int", "<int with 5001 digits>")
        self.check("v = -(10**5000) + 1", "int", "<int with 5000 digits>")
        self.check("v = [2**1023, -2**1023]", "list", [2**1023, -2**1023], 2)
        self.check("v = 2**1024", "int", str(2**1024))

    def test_lone_surrogate(self):
        self.check("v = 'a\\ud800b'", "str", "a\ufffdb", 3)

    def test_many_big_records_stay_within_budget(self):
        code = "v = 'x' * 900000\n"
        r = run_harness(code, [{"var": "v"}] * 30)
        self.assertLess(len(r.raw_records), 10 << 20)  # the worker's stream budget (observations.h)
        self.assertTrue(all(len(line) <= 1 << 20 for line in r.raw_records.split(b"\n")))
        self.assertNotIn("truncated", r.obs(0))
        self.assertTrue(r.obs(29)["truncated"])
        self.assertEqual(r.records[-1], END)

    def test_elements_of_all_records_stay_within_budget(self):
        # 90,000 elements each: the first two fit the 200,000 of the whole
        # stream, the third would not and is reported as a cut repr.
        r = run_harness("v = list(range(90000))\n", [{"var": "v"}] * 3)
        self.assertNotIn("truncated", r.obs(0))
        self.assertNotIn("truncated", r.obs(1))
        self.assertTrue(r.obs(2)["truncated"])
        self.assertEqual(r.obs(0)["value"][-1], 89999)
        self.assertEqual(r.records[-1], END)


class TestCalls(HarnessTestCase):
    PROGRAM = ("def add(a, b=10):\n    return a + b\n\n"
               "def loud(x):\n    print('LOUD', x)\n    import sys\n    print('ERR', file=sys.stderr)\n"
               "    import os\n    os.write(1, b'RAW')\n    return [x, x]\n\n"
               "def boom():\n    return 1/0\n\n"
               "def leave():\n    raise SystemExit(4)\n\n"
               "number = 5\nprint('main done')\n")

    def test_calls(self):
        r = run_harness(self.PROGRAM, [
            {"call": "add", "args": [1, 2]},
            {"call": "add", "args": [1], "kwargs": {"b": 5}},
            {"call": "add", "args": [], "kwargs": {}},
            {"call": "loud", "args": ["hey"]},
            {"call": "boom"},
            {"call": "missing", "args": [1]},
            {"call": "number"},
            {"call": "leave"},
            {"call": "add", "args": [[1], [2.5]]},
        ])
        self.assertEqual(r.stdout, "main done\n")
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.records, [
            FINISHED_OK,
            {"i": 0, "ok": True, "type": "int", "value": 3},
            {"i": 1, "ok": True, "type": "int", "value": 6},
            {"i": 2, "ok": False, "error": "TypeError: add() missing 1 required positional argument: 'a'"},
            {"i": 3, "ok": True, "type": "list", "value": ["hey", "hey"]},
            {"i": 4, "ok": False, "error": "ZeroDivisionError: division by zero"},
            {"i": 5, "ok": False, "error": "NameError: name 'missing' is not defined"},
            {"i": 6, "ok": False, "error": "TypeError: 'int' object is not callable"},
            {"i": 7, "ok": False, "error": "SystemExit: 4"},
            {"i": 8, "ok": True, "type": "list", "value": [1, 2.5]},
            END])

    def test_calls_after_exception_and_state(self):
        code = "count = 0\ndef bump():\n    global count\n    count += 1\n    return count\nraise ValueError('x')\n"
        r = run_harness(code, [{"call": "bump"}, {"call": "bump"}, {"var": "count"}])
        self.assertEqual(r.finished["exitCode"], 1)
        self.assertEqual([r.obs(0)["value"], r.obs(1)["value"], r.obs(2)["value"]], [1, 2, 2])

    def test_call_returning_numpy(self):
        code = "import numpy as np\ndef f(n):\n    return np.arange(n) * 1.5\n"
        r = run_harness(code, [{"call": "f", "args": [3]}])
        self.assertEqual(r.obs(0), {"i": 0, "ok": True, "type": "ndarray", "value": [0.0, 1.5, 3.0]})

    def test_call_that_changes_stdout_does_not_leak(self):
        code = "import sys, io\ndef f():\n    sys.stdout = io.StringIO()\n    return 1\ndef g():\n    print('hidden')\n    return 2\n"
        r = run_harness(code, [{"call": "f"}, {"call": "g"}])
        self.assertEqual(r.stdout, "")
        self.assertEqual([r.obs(0)["value"], r.obs(1)["value"]], [1, 2])

    def test_builtin_names_are_not_globals(self):
        r = run_harness("x = 1\n", [{"call": "print", "args": [1]}, {"var": "len"}])
        self.assertEqual(r.obs(0)["error"], "NameError: name 'print' is not defined")
        self.assertEqual(r.obs(1), {"i": 1, "exists": False})


class TestHostilePrograms(HarnessTestCase):
    def test_monkeypatched_json_print_stdout_builtins(self):
        code = ("import json, builtins, sys, io, os\n"
                "json.dumps = lambda *a, **k: 'forged'\n"
                "json.JSONEncoder.encode = lambda *a, **k: 'forged'\n"
                "builtins.len = lambda x: -1\n"
                "builtins.repr = lambda x: 'forged'\n"
                "builtins.isinstance = lambda *a: False\n"
                "builtins.print = lambda *a, **k: None\n"
                "os.write = lambda *a: 0\n"
                "sys.stdout = io.StringIO()\n"
                "v = {'a': [1, 2]}\n"
                "def f(x):\n    return x * 2\n")
        r = run_harness(code, [{"var": "v"}, {"call": "f", "args": [4]}])
        self.assertEqual(r.records, [
            FINISHED_OK,
            {"i": 0, "exists": True, "type": "dict", "value": {"a": [1, 2]}, "len": 1},
            {"i": 1, "ok": True, "type": "int", "value": 8}, END])

    def test_monkeypatched_traceback_module(self):
        # best effort: the harness uses the traceback module, as Python's own
        # tools do; a program that replaces its functions changes the report,
        # yet the records still arrive
        code = "import traceback\ntraceback.format_exception = None\n1/0\n"
        r = run_harness(code)
        self.assertEqual(r.returncode, 1)
        self.assertIn("ZeroDivisionError: division by zero", r.stderr)
        self.assertEqual(r.finished["error"], "ZeroDivisionError: division by zero (line 3)")

    def test_junk_on_fd4_first(self):
        # The program can write to fd 4; what arrives is its bytes followed by
        # the harness's records. The worker decides (PROTOCOL.md): a line that
        # does not parse makes the observations unavailable; forged records
        # cannot know the expected values.
        code = "import os\nos.write(4, b'junk\\n{\"i\": 0, \"exists\": false}\\n')\nx = 1\n"
        harness_input = json.dumps({"code": code, "observe": [{"var": "x"}]}).encode()
        raw = _raw_records(harness_input)
        lines = raw.decode("ascii").split("\n")
        self.assertEqual(lines[0], "junk")
        self.assertEqual(json.loads(lines[1]), {"i": 0, "exists": False})
        self.assertEqual(lines[2], "")
        self.assertEqual([json.loads(x) for x in lines[3:-1]], [
            FINISHED_OK, {"i": 0, "exists": True, "type": "int", "value": 1, "len": None}, END])
        self.assertEqual(lines[-1], "")

    def test_partial_junk_line_on_fd4(self):
        # a line the program leaves unfinished does not swallow the harness's
        # first record: the harness starts with a newline
        code = "import os\nos.write(4, b'{\"partial\": ')\nx = 1\n"
        raw = _raw_records(json.dumps({"code": code, "observe": [{"var": "x"}]}).encode())
        lines = raw.decode("ascii").split("\n")
        self.assertEqual(lines[0], '{"partial": ')
        self.assertEqual(json.loads(lines[1]), FINISHED_OK)
        self.assertEqual(json.loads(lines[2])["value"], 1)

    def test_program_closes_fd4(self):
        code = "import os\nos.close(4)\nx = 1\nraise SystemExit(6)\n"
        r = run_harness(code, [{"var": "x"}])
        self.assertEqual(r.returncode, 6)
        self.assertEqual(r.records, [])
        self.assertEqual(r.stderr, "")

    def test_program_reuses_fd4_number(self):
        code = "import os\nos.close(4)\nf = open('file.txt', 'w')\ng = open('other.txt', 'w')\nprint(g.fileno())\n"
        r = run_harness(code, [{"var": "x"}])
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.records, [])

    def test_program_closes_stdout(self):
        r = run_harness("import sys, os\nprint('a')\nsys.stdout.close()\nos.close(1)\nx = 2\n",
                        [{"var": "x"}])
        self.assertEqual((r.returncode, r.stdout), (0, "a\n"))
        self.assertEqual(r.obs(0)["value"], 2)

    def test_program_deletes_std_streams_and_modules(self):
        code = ("import sys\nprint('x', end='')\nv = [1, 2]\ndef f():\n    return 3\n"
                "del sys.stdout, sys.stderr\nsys.modules.clear()\n")
        r = run_harness(code, [{"var": "v"}, {"call": "f"}])
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "x", ""))
        self.assertEqual([r.obs(0)["value"], r.obs(1)["value"]], [[1, 2], 3])
        self.assertEqual(r.records[-1], END)

    def test_program_reads_harness_input(self):
        code = "import os\ntry:\n    os.read(3, 10)\n    leaked = True\nexcept OSError:\n    leaked = False\n"
        r = run_harness(code, [{"var": "leaked"}])
        self.assertEqual(r.obs(0)["value"], False)

    def test_low_recursion_limit(self):
        r = run_harness("import sys\nsys.setrecursionlimit(50)\nv = [[[[1]]]]\n1/0\n", [{"var": "v"}])
        self.assertIn("ZeroDivisionError", r.stderr)
        self.assertEqual(r.obs(0)["value"], [[[[1]]]])

    def test_harness_input_is_bad(self):
        r = run_harness(None, harness_input=b"{not json")
        self.assertEqual(r.returncode, 125)
        self.assertTrue(r.stderr.startswith("pyexec harness: cannot read the harness input"))
        self.assertEqual(r.records, [])


def _raw_records(harness_input):
    in_fd = _sealed_memfd("harness-input", harness_input)
    stdin_fd = _sealed_memfd("stdin", b"")
    res_r, res_w = os.pipe()

    def arrange_fds():
        os.dup2(in_fd, 3)
        os.dup2(res_w, 4)

    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.Popen([PYTHON, "-u", "-B", "-s", "-c", HARNESS_SOURCE], stdin=stdin_fd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                pass_fds=(3, 4), preexec_fn=arrange_fds, cwd=cwd, env=ENV)
        os.close(res_w)
        raw = _read_all(res_r)
        proc.wait(60)
    os.close(in_fd)
    os.close(stdin_fd)
    return raw


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib")); import pyunit; pyunit.main("harness", globals())
