"""Tests of the harness's exercise part (src/harness/exercise.py), run the
way pyexecd runs it but without a sandbox (see test_harness.py): the
request's files, pytest's records within their caps, and out/'s files.

Run: /usr/bin/python3 tests/harness/test_exercise_harness.py
"""
import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_harness import run_harness  # noqa: E402

FINISHED_OK = {"event": "finished", "exitCode": 0, "syntaxError": False, "error": None}


def harness(code, files=None, pytest=(), observe=None):
    doc = {"code": code, "observe": observe if observe is not None else [None] * (len(pytest) + 1)}
    if files:
        doc["files"] = files
    if pytest:
        doc["pytest"] = [{"i": i, "code": c} for i, c in pytest]
    return run_harness(None, harness_input=json.dumps(doc).encode())


class Files(unittest.TestCase):
    def test_written_before_the_program_as_given(self):
        run = harness("import os\nprint(sorted(os.listdir('.')), open('d/e/f.txt', encoding='utf-8').read())",
                      files={"d/e/f.txt": "h\u00e9\n\u0000x", "a.py": ""})
        self.assertEqual(run.stdout, "['a.py', 'd'] h\u00e9\n\x00x\n")
        self.assertEqual(run.records[0], FINISHED_OK)

    def test_an_unsafe_path_is_a_harness_failure(self):
        run = harness("print(1)", files={"../x": "1"})
        self.assertEqual((run.returncode, run.stdout, run.records), (125, "", []))
        self.assertIn("cannot write the request's files", run.stderr)


class Pytest(unittest.TestCase):
    def test_records_in_order_and_end(self):
        module = "from main import x\n\ndef test_a():\n    assert x == 1\n\ndef test_b():\n    assert x == 2\n"
        run = harness("x = 1\n", pytest=[(1, module)], observe=[{"var": "x"}, None])
        kinds = [("i" if "i" in r else "test" if "test" in r else r.get("event")) for r in run.records]
        self.assertEqual(kinds, ["finished", "i", "test", "test", "test", "end"])
        a, b, done = run.records[2:5]
        self.assertEqual(a, {"test": 1, "name": "test_a", "outcome": "passed"})
        self.assertEqual((b["name"], b["outcome"]), ("test_b", "failed"))
        self.assertIn("assert 1 == 2", b["message"])
        self.assertEqual(done, {"test": 1, "done": True, "collected": 2, "error": None})

    def test_results_past_the_count_are_only_counted(self):
        module = ("import pytest\n\n@pytest.mark.parametrize('n', range(520))\ndef test_n(n):\n"
                  "    assert n % 100 != 7\n")
        run = harness("", pytest=[(0, module)])
        results = [r for r in run.records if "outcome" in r]
        self.assertEqual(len(results), 500)
        done = run.records[-2]
        self.assertEqual((done["collected"], done["unlisted"], done["unlistedFailed"]), (520, 20, 1))

    def test_messages_past_the_budget_are_replaced(self):
        module = ("import pytest\n\n@pytest.mark.parametrize('n', range(400))\ndef test_n(n):\n"
                  "    raise ValueError('\\x01' * 20000)\n")
        broken = "raise ImportError('\\x02' * 20000)\n"
        run = harness("", pytest=[(0, module), (1, broken)])
        lines = run.raw_records.decode("ascii").split("\n")
        pytest_bytes = sum(len(line) + 1 for line in lines if line.startswith('{"test"'))
        self.assertLessEqual(pytest_bytes, 2 << 20)
        self.assertLessEqual(max(len(line) for line in lines), 6 * (1024 + 8192) + 256)
        last = [r for r in run.records if "outcome" in r][-1]
        self.assertIn("size limit", last["message"])
        self.assertTrue(any(r.get("messageTruncated") for r in run.records))
        done = [r for r in run.records if r.get("done")]
        self.assertEqual([d["test"] for d in done], [0, 1])
        self.assertIn("size limit", done[1]["error"])

    def test_a_syntax_error_ends_every_module_with_why(self):
        run = harness("def (:\n", pytest=[(0, "def test_a():\n    pass\n"), (1, "def test_b():\n    pass\n")])
        done = [r for r in run.records if r.get("done")]
        self.assertEqual([d["test"] for d in done], [0, 1])
        self.assertTrue(all("syntax error" in d["error"] for d in done))

    def test_stdout_stays_the_programs(self):
        module = "import os\n\ndef test_a():\n    print('x')\n    os.write(1, b'y')\n    assert False\n"
        run = harness("print('mine')", pytest=[(0, module)])
        self.assertEqual((run.stdout, run.stderr), ("mine\n", ""))


class OutFiles(unittest.TestCase):
    def test_sorted_records_then_end_with_the_omitted_count(self):
        code = ("import os\nos.makedirs('out/s')\nopen('out/b', 'w').write('b')\nopen('out/s/a', 'wb').write(b'\\0\\1')\n"
                "os.symlink('/etc/hostname', 'out/l')\n")
        run = harness(code)
        self.assertEqual(run.records[1:], [
            {"file": "out/b", "bytes": 1, "base64": base64.b64encode(b"b").decode()},
            {"file": "out/s/a", "bytes": 2, "base64": base64.b64encode(b"\0\1").decode()},
            {"event": "end", "filesOmitted": 1}])


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    import pyunit
    pyunit.main("harness-exercise", globals())
